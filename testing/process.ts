/**
 * Runs the project's own command line as a real child process, with a bound:
 * a child that outlives it is killed by PID and the test fails saying so.
 *
 * @module
 */
import { fromFileUrl } from "./paths.ts";

/** Absolute path of the project's `main.ts`. */
export const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
/** Absolute path of the project's `deno.json`. */
export const CONFIG = fromFileUrl(new URL("../deno.json", import.meta.url));

/** What a finished child left behind. */
export interface Finished {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/** Options of {@link runMain}. */
export interface RunOptions {
  /** Environment for the child, on top of a minimal clean one (PATH, HOME). */
  env?: Record<string, string>;
  /** Working directory (where `.env` is looked up); defaults to a fresh temp dir. */
  cwd?: string;
  /** Hard bound on the run. */
  timeoutMs?: number;
}

/**
 * Runs `deno run -A main.ts ...args` with a clean environment (no LiveKit
 * variables leak in from the developer's shell) and waits for it to exit.
 */
export async function runMain(args: string[], options: RunOptions = {}): Promise<Finished> {
  const cwd = options.cwd ?? await Deno.makeTempDir({ prefix: "exit-message-" });
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
    ...options.env,
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, ...args],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    if (timedOut) {
      throw new Error(
        `main.ts ${args.join(" ")} did not exit within ${timeoutMs} ms; killed PID ${child.pid}`,
      );
    }
    const decoder = new TextDecoder();
    return {
      code: out.signal ? 128 + signalNumber(out.signal) : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    if (!options.cwd) await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}
