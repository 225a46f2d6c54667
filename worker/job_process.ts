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

/** The IPC message shape involved (agents-js ipc/message.ts). */
interface IpcMessage {
  case?: string;
}

/** True in a job process forked by agents-js (argv[1] is its job_proc_lazy_main module). */
function inJobProcess(): boolean {
  return typeof process.send === "function" &&
    /job_proc_lazy_main\.[cm]?[jt]s$/.test(process.argv[1] ?? "");
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
  return async (proc: P) => {
    if (!inJobProcess()) return await prewarm(proc);
    const onMessage = (msg: IpcMessage) => {
      if (msg?.case !== "shutdownRequest") return;
      // What agents-js's handler answers for a process without a job, then the exit it reaches.
      process.send?.({ case: "shutdownRequestAck", value: undefined });
      process.send?.({ case: "shuttingDown", value: undefined });
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
}
