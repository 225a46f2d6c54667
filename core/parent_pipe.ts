/**
 * Lets a console agent notice that the console which started it died, even by
 * SIGKILL (which the console cannot catch to stop its child).
 *
 * The built-in console starts the agent with a pipe on stdin that it never
 * writes to and sets {@link PARENT_PIPE_ENV}. When the console's process ends,
 * however it ends, the kernel closes that pipe and the agent reads EOF; it then
 * ends its session as on Ctrl+C (goodbye bounded, then exit), so it never
 * outlives its console. Linux's `PR_SET_PDEATHSIG` would do the same, but Deno
 * has no `prctl`, and a pipe works on every platform.
 *
 * @module
 */
import { log } from "./log.ts";

/** Set to `1` by the built-in console for the agent it starts. */
export const PARENT_PIPE_ENV = "EXIT_MESSAGE_PARENT_PIPE";

/**
 * Reads stdin until EOF, then calls `onGone` (default: SIGINT to this process,
 * the same graceful ending as Ctrl+C). Returns at once; the read runs in the
 * background for the life of the process.
 */
export function watchParentPipe(
  onGone: () => void = () => Deno.kill(Deno.pid, "SIGINT"),
  stdin: { read(p: Uint8Array): Promise<number | null> } = Deno.stdin,
): Promise<void> {
  return (async () => {
    const buf = new Uint8Array(256);
    try {
      while ((await stdin.read(buf)) !== null) {
        // The console never writes; anything read is ignored.
      }
    } catch {
      // A broken pipe is the same news as EOF.
    }
    try {
      log().warn("the console that started this agent is gone; ending the session");
    } catch {
      // EOF before agents-js set its logger up: nothing to log through yet.
    }
    onGone();
  })();
}
