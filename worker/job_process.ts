/**
 * Job-process side of a clean shutdown: wrap the agent's prewarm with {@link guardPrewarm}.
 *
 * Why: in agents-js 1.9.0 a job process has no handler for the worker's `shutdownRequest` until
 * its prewarm has returned (job_proc_lazy_main installs it only then), so a shutdown that reaches a
 * process still starting or prewarming is dropped: typically a SIGTERM just after a job took the
 * warm process and its replacement was forked (the shutdown can even arrive in the same IPC chunk
 * as the initialize request). The worker then waits `shutdownProcessTimeout` for an
 * acknowledgement that never comes and SIGKILLs the process (observed: 28 s with a 28 s timeout;
 * agents-js's default is 60 s).
 *
 * The guard listens for that request while prewarm runs. Such a process has no job yet (a job is
 * only launched after prewarm), so it acknowledges as agents-js's handler would and exits.
 * @module
 */
import process from "node:process";

/**
 * What the guard relies on in agents-js 1.9.0, none of it public API: the IPC message names
 * (`ipc/message.ts`) and the module it forks for a job (`ipc/job_proc_executor.ts`).
 * `worker/job_process_test.ts` checks them against the installed agents-js.
 */
export const GUARD = {
  /** What the worker sends to end a job process. */
  shutdownRequest: "shutdownRequest",
  /** The job process's first answer to it. */
  shutdownAck: "shutdownRequestAck",
  /** Its second, before it exits. */
  shuttingDown: "shuttingDown",
  /** The job process's main module, as `argv[1]` of the forked process names it. */
  jobModule: /job_proc_lazy_main\.[cm]?[jt]s$/,
} as const;

/** The IPC message shape involved (agents-js ipc/message.ts). */
interface IpcMessage {
  case?: string;
}

const guarded = new WeakSet<object>();

/** True when `prewarm` is one {@link guardPrewarm} returned. */
export function isGuarded(prewarm: unknown): boolean {
  return typeof prewarm === "function" && guarded.has(prewarm);
}

/** True in a job process forked by agents-js (argv[1] is its job_proc_lazy_main module). */
function inJobProcess(): boolean {
  return typeof process.send === "function" && GUARD.jobModule.test(process.argv[1] ?? "");
}

/**
 * Returns `prewarm` wrapped so that a shutdown request arriving while it runs ends the (idle)
 * process at once instead of being lost: `defineAgent({ prewarm: guardPrewarm(prewarm), entry })`.
 * Outside a forked job process (the worker itself, console mode) it only calls `prewarm`.
 *
 * The guard is armed when prewarm starts, not at import: a "message" listener added before
 * agents-js's own first `once(process, "message")` makes Deno deliver the initialize request to
 * the guard alone, and the process then never initializes (seen as "runner initialization timed
 * out"). A shutdown that lands in the few milliseconds between the initialize request and prewarm
 * is still dropped; agents-js then ends that process after `shutdownProcessTimeout` (10 s here).
 */
export function guardPrewarm<P, R>(
  prewarm: (proc: P) => R | Promise<R>,
): (proc: P) => Promise<R> {
  const guardedPrewarm = async (proc: P) => {
    if (!inJobProcess()) return await prewarm(proc);
    const onMessage = (msg: IpcMessage) => {
      if (msg?.case !== GUARD.shutdownRequest) return;
      // What agents-js's handler answers for a process without a job, then the exit it reaches.
      process.send?.({ case: GUARD.shutdownAck, value: undefined });
      process.send?.({ case: GUARD.shuttingDown, value: undefined });
      process.exit(0);
    };
    process.on("message", onMessage);
    try {
      return await prewarm(proc);
    } finally {
      // From here agents-js's own handler answers shutdown requests.
      process.off("message", onMessage);
    }
  };
  guarded.add(guardedPrewarm);
  return guardedPrewarm;
}
