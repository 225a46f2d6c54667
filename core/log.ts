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

/**
 * Adds `fields` (the room name, as the recipe's `ctx.log_context_fields` does)
 * to every line logged from now on in this process, app and library alike.
 * A job process serves one job, so binding process-wide is per job.
 */
export function bindLogContext(fields: Record<string, unknown>): Logger {
  const logger = log().child(fields);
  (globalThis as Record<symbol, unknown>)[LOGGER_KEY] = logger;
  return logger;
}

export { log };
