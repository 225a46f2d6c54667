/**
 * Job-process set-up around the agent's prewarm: once prewarm is done, warm up for the first call
 * (`warm_up.ts`), connect to the main
 * process's metrics channel and report how long prewarm took
 * (`lk_agents_proc_initialize_duration_seconds`), and start the loop monitor without its own
 * start-up counted as a stall (`core/loop_monitor.ts`). Outside a forked job process (console) it
 * only runs prewarm.
 * @module
 */
import process from "node:process";
import { connectJobReporter, reportCall } from "../core/call_metrics.ts";
import { startLoopMonitor } from "../core/loop_monitor.ts";
import { warmUp } from "./warm_up.ts";

/**
 * True in a job process: one forked by agents-js (argv[1] is its job_proc_lazy_main module), or a
 * call host running several calls (worker/call_host/host_main.ts).
 */
function inJobProcess(): boolean {
  return typeof process.send === "function" &&
    /(job_proc_lazy_main|call_host\/host_main)\.[cm]?[jt]s$/.test(process.argv[1] ?? "");
}

/**
 * Returns `prewarm` followed by the job process's set-up: its warm-up for the first call
 * (`warm_up.ts`, with the agent's own `warmCall`), its metrics channel and its loop monitor.
 */
export function withJobProcessSetup<P, R>(
  prewarm: (proc: P) => R | Promise<R>,
  warmCall?: (proc: P) => Promise<{ speechSeconds: number } | void>,
): (proc: P) => Promise<R> {
  return async (proc: P) => {
    const started = performance.now();
    const result = await prewarm(proc);
    if (inJobProcess()) {
      // Before the monitor starts: the warm-up is the loop's work on purpose, with no call waiting.
      await warmUp(warmCall && (() => warmCall(proc)));
      connectJobReporter();
      reportCall({ kind: "proc_initialized", seconds: (performance.now() - started) / 1000 });
      // agents-js starts the monitor right after prewarm; starting it here first is the same
      // moment, minus the false report of its own start-up.
      startLoopMonitor("job");
    }
    return result;
  };
}
