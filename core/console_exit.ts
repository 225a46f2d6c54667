/**
 * How a console process exits, where the job runs in the CLI's own process:
 * at once (a second signal, the forced ending), or once its teardown is done.
 * Either way with a bounded grace for the log, so the line that explains the
 * exit reaches the terminal.
 *
 * @module
 */
import { InferenceRunner } from "@livekit/agents";
import { CONSOLE_EXIT_GRACE_MS, LOG_FLUSH_GRACE_MS } from "./bounds.ts";
import { log } from "./log.ts";
import { killDescendants } from "./process_tree.ts";

/**
 * Ends a console process now: whatever it forked is killed by PID first, so
 * nothing outlives it, and the log is flushed (bounded) so the line that
 * explains the exit is not lost with the process.
 */
export function exitConsole(code: number): void {
  killDescendants(Deno.pid);
  // The console logger (pino -> pino-pretty -> async sonic-boom on fd 1)
  // offers no flush that reports completion, and writes one line per event
  // loop turn: the explaining lines get a short fixed grace to reach the
  // terminal (a bound, not a wait for a condition nobody can observe).
  setTimeout(() => Deno.exit(code), LOG_FLUSH_GRACE_MS);
}

/**
 * Console mode runs the job in the CLI's own process, which agents-js's
 * leftover timers would keep alive for up to 15 s after the session closed
 * (see `CONSOLE_EXIT_GRACE_MS`). This runs as the last shutdown callback, after
 * the models and signal listeners were released; what agents-js still does
 * after it is flush the logs and, only when a plugin registered a local
 * inference runner, close the inference process. So the process exits once
 * that is given its bound: 0, or `MODEL_FAILURE_EXIT_CODE` (3) when the call
 * ended because the models failed. The timer is unref'd: if the loop empties
 * first, the process ends by itself, with the same status.
 */
export function armConsoleExit(code: number): Promise<void> {
  const inferenceProcess = Object.keys(InferenceRunner.registeredRunners).length > 0;
  const graceMs = inferenceProcess ? CONSOLE_EXIT_GRACE_MS : LOG_FLUSH_GRACE_MS;
  Deno.exitCode = code; // also when the loop empties first
  const timer = setTimeout(() => Deno.exit(code), graceMs);
  Deno.unrefTimer(timer);
  log().debug({ grace_ms: graceMs, exit_code: code }, "console teardown done; exiting");
  return Promise.resolve();
}
