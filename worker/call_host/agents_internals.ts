/**
 * The two pieces of agents-js 1.9.0 a call host needs that the package does not export: the job
 * executor class whose `createProcess` the worker side overrides (`install.ts`), and the job
 * lifecycle helpers the host runs each job through exactly as agents-js's own job process does
 * (`job_runner.ts`).
 *
 * Why by file: `@livekit/agents` exports only its index, and these live in `dist/ipc/` and
 * `dist/job_lifecycle.js`. They are loaded from beside the index the package itself resolves to,
 * so they are the very module instances agents-js uses (one `JobProcExecutor` class, patched
 * once, is the one its process pool constructs). Each is checked for the shape this project
 * relies on, so an agents-js upgrade that moves or renames them fails at start with one line.
 * The upstream change that makes this module unnecessary: an executor option in `ServerOptions`
 * (Python has `job_executor_type`), or exported lifecycle helpers.
 *
 * @module
 */
import type { JobContext } from "@livekit/agents";

/** The agents-js version these internals were read from. */
export const AGENTS_VERSION = "1.9.0";

/** The part of agents-js's `JobProcExecutor` the override touches. */
export interface JobProcExecutorClass {
  prototype: { createProcess(): unknown };
}

/** A pino-like logger, as agents-js's lifecycle helpers take it. */
// deno-lint-ignore no-explicit-any
export type LifecycleLogger = any;

/** agents-js's `job_lifecycle.js`, the helpers its job process runs each job through. */
export interface JobLifecycle {
  /** Waits (bounded, 15 s) for the entry function after the job was told to close. */
  waitForEntrypointShutdown(entry: Promise<unknown>, logger: LifecycleLogger): Promise<void>;
  /** Closes the session (bounded, 60 s), runs `onSessionEnd`, the session report. */
  finalizeSession(
    ctx: JobContext,
    onSessionEnd: ((ctx: JobContext) => unknown) | undefined,
    sessionEndTimeout: number,
    logger: LifecycleLogger,
  ): Promise<void>;
  /** Runs the job's shutdown callbacks, logging their failures. */
  runShutdownCallbacks(
    callbacks: readonly (() => Promise<void>)[],
    logger: LifecycleLogger,
  ): Promise<void>;
  /** Checks the worker's session-end timeout. */
  validateSessionEndTimeout(timeout: number): number;
  /** Flushes the job's OpenTelemetry logs (bounded). */
  flushJobLogs(logger: LifecycleLogger): Promise<void>;
}

const DIST = import.meta.resolve("@livekit/agents");

async function load(path: string, names: string[]): Promise<Record<string, unknown>> {
  const url = new URL(path, DIST).href;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    throw new Error(
      `the call host needs agents-js ${AGENTS_VERSION}'s ${path}, which could not be loaded (${
        error instanceof Error ? error.message : error
      }); run with CALLS_PER_PROCESS=1 or pin @livekit/agents@${AGENTS_VERSION}`,
    );
  }
  const missing = names.filter((n) => module[n] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `agents-js's ${path} no longer has ${
        missing.join(", ")
      } (the call host was written for ${AGENTS_VERSION}); run with CALLS_PER_PROCESS=1 or pin @livekit/agents@${AGENTS_VERSION}`,
    );
  }
  return module;
}

/** agents-js's `JobProcExecutor` class (the process pool's executor). */
export async function jobProcExecutor(): Promise<JobProcExecutorClass> {
  const m = await load("./ipc/job_proc_executor.js", ["JobProcExecutor"]);
  const cls = m.JobProcExecutor as JobProcExecutorClass;
  if (typeof cls.prototype?.createProcess !== "function") {
    throw new Error(
      `agents-js's JobProcExecutor has no createProcess() (the call host was written for ${AGENTS_VERSION}); run with CALLS_PER_PROCESS=1`,
    );
  }
  return cls;
}

/** agents-js's job lifecycle helpers. */
export async function jobLifecycle(): Promise<JobLifecycle> {
  const m = await load("./job_lifecycle.js", [
    "waitForEntrypointShutdown",
    "finalizeSession",
    "runShutdownCallbacks",
    "validateSessionEndTimeout",
    "flushJobLogs",
  ]);
  return m as unknown as JobLifecycle;
}
