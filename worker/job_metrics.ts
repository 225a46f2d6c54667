/**
 * Job-process set-up around the agent's prewarm: once prewarm is done, connect to the main
 * process's metrics channel and report how long prewarm took
 * (`lk_agents_proc_initialize_duration_seconds`), and start the loop monitor without its own
 * start-up counted as a stall (`core/loop_monitor.ts`). Outside a forked job process (console) it
 * only runs prewarm.
 * @module
 */
import process from "node:process";
import { connectJobReporter, reportCall } from "../core/call_metrics.ts";
import { startLoopMonitor } from "../core/loop_monitor.ts";

/**
 * True in a job process: one forked by agents-js (argv[1] is its job_proc_lazy_main module), or a
 * call host running several calls (worker/call_host/host_main.ts).
 */
function inJobProcess(): boolean {
  return typeof process.send === "function" &&
    /(job_proc_lazy_main|call_host\/host_main)\.[cm]?[jt]s$/.test(process.argv[1] ?? "");
}

/** Returns `prewarm` followed by the job process's metrics and monitor set-up. */
export function withJobProcessSetup<P, R>(
  prewarm: (proc: P) => R | Promise<R>,
): (proc: P) => Promise<R> {
  return async (proc: P) => {
    const started = performance.now();
    const result = await prewarm(proc);
    if (inJobProcess()) {
      connectJobReporter();
      reportCall({ kind: "proc_initialized", seconds: (performance.now() - started) / 1000 });
      // agents-js starts the monitor right after prewarm; starting it here first is the same
      // moment, minus the false report of its own start-up.
      startLoopMonitor("job");
    }
    return result;
  };
}
