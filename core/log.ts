/**
 * One log stream for the app and the agents library.
 *
 * agents-js logs through a process-wide pino logger that its CLI sets up per
 * command: JSON lines in `start`, pretty lines in `dev` and `console`, level
 * from `--log-level` / `LOG_LEVEL`. The app logs through the same logger
 * (`log()` from `@livekit/agents`), so there is one format and one level
 * switch. JSR's `@std/log` cannot be installed here, and a second logger would
 * split the stream anyway.
 *
 * @module
 */
import { log } from "@livekit/agents";

/** The log levels agents-js accepts, lowest first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/** The logger type of agents-js (pino). */
export type Logger = ReturnType<typeof log>;

// agents-js keeps its logger in this process-wide slot (log_core.ts) so every
// copy of the package shares it. Binding fields there is the only way to give
// the library's own lines a field: it exposes no public setter.
const LOGGER_KEY = Symbol.for("@livekit/agents:logger");

/** Per-job loggers of a process that runs several jobs ({@link routeLogsByJob}). */
let jobLoggers: { current: () => string | undefined; byJob: Map<string, Logger> } | undefined;

/**
 * Adds `fields` (the room name, as the recipe's `ctx.log_context_fields` does)
 * to every line logged from now on by this job, app and library alike. A job
 * process serves one job, so there it binds process-wide; in a call host
 * ({@link routeLogsByJob}) it binds for the job running the caller only.
 */
export function bindLogContext(fields: Record<string, unknown>): Logger {
  const id = jobLoggers?.current();
  if (jobLoggers && id !== undefined) {
    const logger = (jobLoggers.byJob.get(id) ?? log()).child(fields);
    jobLoggers.byJob.set(id, logger);
    return logger;
  }
  const logger = log().child(fields);
  (globalThis as Record<symbol, unknown>)[LOGGER_KEY] = logger;
  return logger;
}

/**
 * Makes the process-wide logger follow the job: every line, the library's
 * included, goes through the logger bound for the job whose async context it
 * is logged from (`currentJob`, e.g. agents-js's `getJobContext`), else the
 * process's own. For a process that runs several jobs at once (a call host).
 * {@link forgetJobLogger} drops a job's logger once the job is over.
 */
export function routeLogsByJob(currentJob: () => string | undefined): void {
  const base = log();
  const byJob = new Map<string, Logger>();
  jobLoggers = { current: currentJob, byJob };
  const pick = (): Logger => {
    const id = currentJob();
    return (id !== undefined ? byJob.get(id) : undefined) ?? base;
  };
  (globalThis as Record<symbol, unknown>)[LOGGER_KEY] = new Proxy(base, {
    get(_target, prop) {
      const logger = pick();
      const value = Reflect.get(logger, prop, logger);
      return typeof value === "function" ? value.bind(logger) : value;
    },
  });
}

/** Drops the logger bound for `jobId` (a call host, once the job is over). */
export function forgetJobLogger(jobId: string): void {
  jobLoggers?.byJob.delete(jobId);
}

export { log };
