/**
 * Test support: runs the worker as a real child process and cleans up after it by PID.
 *
 * Every wait is bounded and fails with what it was waiting for. `stop()` ends the worker and
 * every descendant (job and inference processes) by PID, then drains its output, so sanitizers
 * see no leaked process or stream.
 * @module
 */
import { fileURLToPath } from "node:url";
import { isAlive, killDescendants, listDescendants } from "../../core/process_tree.ts";
import { bounded, until } from "../../testbed/wait.ts";

const ECHO = Deno.env.get("WORKER_TEST_ECHO") === "1";

/** Repository root (the directory holding deno.json). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The test entry that runs the worker with the fixture agent. */
export const RUN_WORKER = fileURLToPath(new URL("./run_worker.ts", import.meta.url));

/** Options of {@link spawnWorker}. */
export interface SpawnOptions {
  /** Script and args after `deno run -A`, default `[RUN_WORKER, ...args]`. */
  script?: string;
  args: string[];
  env: Record<string, string>;
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

  /** All output so far, one string. */
  get output(): string {
    return this.lines.join("\n");
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#line(line);
    }
    if (rest) this.#line(rest);
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

  /** Waits for an output line matching `re` (already printed or future). */
  waitForLine(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
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

/** Starts `deno run -A <script> ...args` from the repository root. */
export function spawnWorker(opts: SpawnOptions): WorkerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", opts.script ?? RUN_WORKER, ...opts.args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new WorkerProcess(child);
}

export { bounded, until };

/** One fixture-agent event (see fixture_agent.ts). */
export interface FixtureEvent {
  event: string;
  pid: number;
  jobId?: string;
  error?: string;
}

/** Reads the fixture agent's events file. */
export function readEvents(file: string): FixtureEvent[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return [];
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** Waits for a fixture event matching `match`. */
export function waitForEvent(
  file: string,
  match: (e: FixtureEvent) => boolean,
  timeoutMs = 20_000,
  what = "a fixture event",
): Promise<FixtureEvent> {
  return until(
    () => readEvents(file).find(match),
    timeoutMs,
    `${what}; events: ${JSON.stringify(readEvents(file))}`,
  );
}

/** Waits until none of `pids` is alive. */
export function waitAllDead(pids: number[], timeoutMs = 10_000): Promise<true> {
  return until(
    () => pids.every((p) => !isAlive(p)) ? true : undefined,
    timeoutMs,
    `processes still alive: ${pids.filter(isAlive).join(", ")}`,
  );
}

/** A port nothing listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
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
    "NUM_IDLE_PROCESSES",
    "LOAD_THRESHOLD",
    "DRAIN_TIMEOUT",
    "SHUTDOWN_GRACE",
    "MAX_RETRY",
    "LOG_LEVEL",
  ].map((k) => [k, ""]),
);

/** Environment for a worker pointed at `url`. */
export function workerEnv(
  url: string,
  secret: string,
  events: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...BLANK_ENV,
    LIVEKIT_URL: url,
    LIVEKIT_API_KEY: "devkey",
    LIVEKIT_API_SECRET: secret,
    FIXTURE_EVENTS_FILE: events,
    ...extra,
  };
}
