/**
 * A worker (or any long-running command of this project) as a real child process, with
 * line-level access to its output and clean-up by PID: `stop()` ends it and every descendant
 * (job and inference processes), then drains its output, so sanitizers see no leaked process or
 * stream. Every wait is bounded and fails with what it was waiting for.
 *
 * @module
 */
import { textLines } from "../lines.ts";
import { fileURLToPath } from "node:url";
import { isAlive, killDescendants, listDescendants } from "../../core/process_tree.ts";
import { bounded, until } from "../wait.ts";

const ECHO = Deno.env.get("WORKER_TEST_ECHO") === "1";

/** Repository root (the directory holding deno.json). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The project's command line. */
export const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** Options of {@link spawnWorker}. */
export interface SpawnOptions {
  /** Script run by `deno run -A` (default: main.ts). */
  script?: string;
  /** Its arguments. */
  args: string[];
  /** Environment, on top of the test runner's (see {@link BLANK_ENV}). */
  env: Record<string, string>;
  /** Another runtime's executable (the benchmark's Node peer); default this Deno. */
  cmd?: string;
  /** With `cmd`: its arguments before the project's own (replaces `run -A <script>`). */
  prefix?: string[];
  /** Working directory (default: the repository root). */
  cwd?: string;
}

/** A worker child process with line-level access to its output (stdout and stderr merged). */
export class WorkerProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly startedAt = performance.now();
  #waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  #pumps: Promise<void>[];
  #status?: Deno.CommandStatus;
  readonly exited: Promise<Deno.CommandStatus>;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    this.exited = child.status.then((s) => (this.#status = s));
  }

  get pid(): number {
    return this.child.pid;
  }

  /**
   * The PIDs of agents-js's inference process(es) under this worker (it hosts the local
   * end-of-turn model), once there is one, within `timeoutMs`.
   */
  inferenceProcesses(timeoutMs: number): Promise<number[]> {
    return until(
      () => {
        const found = listDescendants(this.pid).filter((pid) => {
          try {
            return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("inference_proc");
          } catch {
            return false; // gone meanwhile
          }
        });
        return found.length > 0 ? found : undefined;
      },
      timeoutMs,
      "the worker's inference process",
    );
  }

  /** All output so far, one string. */
  get output(): string {
    return this.lines.join("\n");
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const line of textLines(stream)) this.#line(line);
  }

  #line(line: string): void {
    this.lines.push(line);
    // WORKER_TEST_ECHO=1 shows the workers' output while debugging a test.
    if (ECHO) console.error(`[worker ${this.pid}] ${line}`);
    for (const w of [...this.#waiters]) {
      if (w.re.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** Waits for an output line matching `re` (printed at or after line `since`, or future). */
  waitForLine(re: RegExp, timeoutMs = 20_000, since = 0): Promise<string> {
    const seen = this.lines.slice(since).find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return bounded(
      new Promise<string>((resolve) => this.#waiters.push({ re, resolve })),
      timeoutMs,
      () => `no output line matching ${re} within ${timeoutMs} ms; output:\n${this.tail()}`,
    );
  }

  /** Waits for the process to exit. */
  waitForExit(timeoutMs: number): Promise<Deno.CommandStatus> {
    return bounded(
      this.exited,
      timeoutMs,
      () => `worker still running after ${timeoutMs} ms; output:\n${this.tail()}`,
    );
  }

  /** Live descendants (job processes, inference process). */
  descendants(): number[] {
    return this.#status ? [] : listDescendants(this.pid);
  }

  /** Last lines of output, for failure messages. */
  tail(n = 40): string {
    return this.lines.slice(-n).map((l) => l.slice(0, 400)).join("\n");
  }

  /** Sends a signal if the process is still running. */
  signal(sig: Deno.Signal): void {
    if (!this.#status) this.child.kill(sig);
  }

  /**
   * A crash of the whole worker, as an OOM kill or a lost machine would do it: the worker is frozen
   * (so it cannot react), every descendant gets SIGKILL (`killDescendants` freezes them first),
   * then the worker. Nothing runs any shutdown code. Returns the PIDs killed, worker first.
   */
  crash(): number[] {
    if (this.#status) return [];
    try {
      Deno.kill(this.pid, "SIGSTOP");
    } catch {
      // exited meanwhile
    }
    const below = killDescendants(this.pid);
    try {
      this.child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
    return [this.pid, ...below];
  }

  /** Ends the worker and its descendants by PID (if still running) and drains its output. */
  async stop(): Promise<void> {
    if (!this.#status) {
      killDescendants(this.pid);
      try {
        this.child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    await this.exited;
    // Orphaned grandchildren would keep the pipes open: end any left from an earlier snapshot.
    await bounded(Promise.all(this.#pumps), 10_000, () => "worker output did not close");
  }
}

/** Starts `deno run -A <script> ...args` (or `cmd ...prefix ...args`) from the repository root. */
export function spawnWorker(opts: SpawnOptions): WorkerProcess {
  const head = opts.cmd ? opts.prefix ?? [] : ["run", "-A", opts.script ?? MAIN];
  const child = new Deno.Command(opts.cmd ?? Deno.execPath(), {
    args: [...head, ...opts.args],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new WorkerProcess(child);
}

/** Waits until none of `pids` is alive. */
export function waitAllDead(pids: number[], timeoutMs = 10_000): Promise<true> {
  return until(
    () => pids.every((p) => !isAlive(p)) ? true : undefined,
    timeoutMs,
    `processes still alive: ${pids.filter(isAlive).join(", ")}`,
  );
}

/**
 * Worker variables a developer's shell may have set, blanked (empty counts as unset) so the
 * tests do not depend on it. Children otherwise inherit the test runner's environment.
 */
export const BLANK_ENV: Record<string, string> = Object.fromEntries(
  [
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_AGENT_NAME",
    "LIVEKIT_WORKER_TOKEN",
    "HEALTH_PORT",
    "HEALTH_HOST",
    "METRICS",
    "NUM_IDLE_PROCESSES",
    "LOAD_THRESHOLD",
    "DRAIN_TIMEOUT",
    "SHUTDOWN_GRACE",
    "MAX_RETRY",
    "LOG_LEVEL",
  ].map((k) => [k, ""]),
);
