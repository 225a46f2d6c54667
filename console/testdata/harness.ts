/**
 * Drives the real console as a child process over pipes, as a user or a CI
 * script would, and records every PID it spawned so tests can prove that
 * nothing is left running.
 *
 * @module
 */
import { isAlive, listDescendants } from "../../core/process_tree.ts";

/** Project root (where deno.json and main.ts live). */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** main.ts of the project. */
export const MAIN = `${ROOT}main.ts`;
/** An ALSA configuration whose default device is the null PCM (a "sound card" that discards). */
export const ALSA_NULL_CONF = new URL("./alsa-null.conf", import.meta.url).pathname;

/** A console run under test. */
export class ConsoleProc {
  readonly child: Deno.ChildProcess;
  readonly pids = new Set<number>();
  out = "";
  err = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #poll: ReturnType<typeof setInterval>;
  #pumps: Promise<void>[];
  readonly status: Promise<Deno.CommandStatus>;

  /**
   * Runs `deno run -A ...args`. With `pty`, inside util-linux `script`, so the
   * console sees a terminal (raw keys, status line) while the test writes keys
   * and reads the screen through pipes.
   */
  constructor(args: string[], env: Record<string, string> = {}, pty = false) {
    const argv = ["run", "-A", ...args];
    const quoted = [Deno.execPath(), ...argv].map((a) => `'${a.replaceAll("'", `'\\''`)}'`);
    this.child = new Deno.Command(pty ? "script" : Deno.execPath(), {
      args: pty ? ["-qfec", quoted.join(" "), "/dev/null"] : argv,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    const dec = () => new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>, key: "out" | "err") => {
      const d = dec();
      for await (const c of s) this[key] += d.decode(c, { stream: true });
    };
    this.#pumps = [pump(this.child.stdout, "out"), pump(this.child.stderr, "err")];
    // Every descendant ever seen, polled; the console's agent and anything it forks.
    this.#poll = setInterval(() => {
      for (const p of listDescendants(this.child.pid)) this.pids.add(p);
    }, 50);
    this.status = this.child.status.then(async (s) => {
      clearInterval(this.#poll);
      await Promise.all(this.#pumps);
      return s;
    });
  }

  /** Types a line. */
  async type(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Presses keys as they are (a terminal's bytes: "\r" is Enter, "\x14" Ctrl+T). */
  async press(keys: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(keys));
  }

  /** Closes stdin (end of input). */
  async endInput(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // already closed
    }
  }

  /** Waits until stdout matches `re`; throws with the output so far after `ms`. */
  async waitFor(re: RegExp, ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (!re.test(this.out)) {
      if (performance.now() > end) {
        throw new Error(
          `timed out waiting for ${re}\n--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal to the console process only (as `kill -INT PID` does). */
  signal(sig: Deno.Signal): void {
    this.child.kill(sig);
  }

  /** Waits for exit, bounded; kills everything on timeout. */
  async exit(ms: number): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
    const s = await Promise.race([this.status, t]);
    clearTimeout(timer);
    if (!s) {
      await this.kill();
      throw new Error(
        `console did not exit within ${ms} ms\n--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`,
      );
    }
    await this.endInput();
    return s;
  }

  /** Last resort for a failing test: SIGKILL the console and every descendant seen. */
  async kill(): Promise<void> {
    for (const p of [...this.pids, this.child.pid]) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    await this.status;
    await this.endInput();
  }

  /** PIDs still alive among those the console ever had below it. */
  leftovers(): number[] {
    return [...this.pids].filter(isAlive);
  }
}

/** True when util-linux `script` can give a test console a terminal. */
export const HAVE_PTY = (() => {
  try {
    const out = new Deno.Command("script", { args: ["--version"], stdout: "piped", stderr: "null" })
      .outputSync();
    return new TextDecoder().decode(out.stdout).includes("util-linux");
  } catch {
    return false;
  }
})();

/** The agent's PID: the descendant running `--connect-addr`. */
export function agentPid(proc: ConsoleProc): number | undefined {
  for (const p of listDescendants(proc.child.pid)) {
    try {
      const cmd = Deno.readTextFileSync(`/proc/${p}/cmdline`);
      if (cmd.includes("--connect-addr")) return p;
    } catch {
      // gone
    }
  }
  return undefined;
}

/** Waits (bounded) until every PID has gone; returns the ones still alive. */
export async function settled(pids: number[], ms = 3000): Promise<number[]> {
  const end = performance.now() + ms;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    alive = alive.filter(isAlive);
  }
  return alive;
}
