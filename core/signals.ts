/**
 * SIGINT and SIGTERM in console mode, where the job runs in the CLI's own
 * process: the first ends the session with its goodbye, a second exits now.
 *
 * @module
 */
import { SIGINT_EXIT, SIGTERM_EXIT } from "./bounds.ts";
import { exitConsole } from "./console_exit.ts";
import type { CallEnding } from "./ending.ts";
import { logSessionEnded } from "./job_end.ts";
import { log } from "./log.ts";

/**
 * Console mode only (the job runs in the CLI's own process): notes SIGINT and
 * SIGTERM on `ending`, so the final line says the session ended because of a
 * signal (`sigint` / `sigterm`), or carries `signals` when the ending was
 * already under way. agents-js's console handles the first signal itself
 * (it closes the session, so the goodbye is said within its bound). A second
 * signal while ending means "now": one line, anything this process forked is
 * killed by PID, and the process exits 130 (SIGINT) or 143 (SIGTERM).
 * agents-js listens only once per signal, so without this a second signal
 * would be ignored. Returns the unsubscribe function.
 */
export function watchSignals(
  ending: CallEnding,
  exit: (code: number) => void = exitConsole,
): () => void {
  const listeners: [Deno.Signal, () => void][] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      if (ending.signals.length === 0) {
        ending.noteSignal(signal);
        log().info({ signal }, `${signal} received; ending the session (the agent says goodbye)`);
        return;
      }
      ending.noteSignal(signal);
      const endReason = ending.endReason("forced_exit");
      // The session line first: it is the one an operator greps for.
      logSessionEnded(ending, endReason, { forced: `second ${signal}` });
      log().warn(
        { signal, end_reason: endReason },
        `second signal (${signal}) while ending; exiting now without waiting for the goodbye`,
      );
      exit(signal === "SIGINT" ? SIGINT_EXIT : SIGTERM_EXIT);
    };
    Deno.addSignalListener(signal, onSignal);
    listeners.push([signal, onSignal]);
  }
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
