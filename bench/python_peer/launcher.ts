/**
 * Starts the Python peer (LiveKit's recipe, see `setup.ts`) as a child process with exactly the
 * environment the bench chooses, reads its log, and ends it and every process it forked by PID.
 *
 * Two ways in, as the recipe's users run it:
 * - worker mode: `python exit_message.py start|dev` against a LiveKit server URL (the recipe's
 *   own CLI, `cli.run_app`); {@link startPythonWorker};
 * - console mode: `python -m livekit.agents console exit_message.py --connect-addr HOST:PORT`,
 *   what `lk agent console` runs: the agent dials a console broker over TCP and speaks the same
 *   protocol as agents-js (the project's `console/broker.ts` drives it);
 *   {@link startPythonConsole}.
 *
 * LiveKit Inference goes to `inferenceUrl` (the project's loopback gateway, `simulation/`): the
 * Python plugins read `LIVEKIT_INFERENCE_URL` when no `base_url` is given, so the recipe's code
 * needs no change. The environment is cleared first: nothing from the caller's shell (or a
 * `.env`) can point the peer at LiveKit Cloud.
 *
 * @module
 */
import { dirname, fromFileUrl, join } from "../node_peer/paths.ts";
import { Child, descendants } from "../proc.ts";
import type { PythonPeer } from "./setup.ts";

/** Folder of `diag/sitecustomize.py` (a SIGUSR2 asyncio task dump; see that file). */
export const DIAG_DIR = join(dirname(fromFileUrl(import.meta.url)), "diag");

/** Credentials and endpoints of one run. */
export interface PeerEndpoints {
  /** LiveKit server URL (`ws://...`); worker mode only. */
  livekitUrl?: string;
  /** API key the server (and the gateway) accept. */
  apiKey: string;
  /** API secret the server (and the gateway) accept. */
  apiSecret: string;
  /** The loopback Inference gateway, `http://127.0.0.1:PORT/v1`. */
  inferenceUrl: string;
}

/** Options common to both modes. */
export interface PeerRunOptions extends PeerEndpoints {
  /** Python log level (`DEBUG`, `INFO`...). Default `DEBUG`, so every step is visible. */
  logLevel?: string;
  /** Extra environment variables (e.g. `LIVEKIT_AGENT_NAME`). */
  env?: Record<string, string>;
  /** Working directory; default the peer's scratch folder (no `.env` in it). */
  cwd?: string;
  /**
   * Puts `diag/` on `PYTHONPATH`, so SIGUSR2 makes any process of the peer write its pending
   * asyncio tasks to stderr ({@link PeerProcess.taskDump}). Off by default.
   */
  diagnostics?: boolean;
}

/** Worker-mode options. */
export interface PythonWorkerOptions extends PeerRunOptions {
  /** `start` (production defaults) or `dev` (development defaults, `LIVEKIT_DEV_MODE=1`). */
  mode: "start" | "dev";
  /** Required in worker mode. */
  livekitUrl: string;
  /** `start --drain-timeout` in seconds (livekit-agents 1.8.9 default when unset: 3600). */
  drainTimeoutS?: number;
}

/** The environment the peer runs with: a clean one plus the endpoints. */
export function peerEnv(opts: PeerRunOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    // Python flushes each log line as it is written, so timestamps taken here are the peer's.
    PYTHONUNBUFFERED: "1",
    // Bytecode caches stay out of the scratch folder's neighbours.
    PYTHONDONTWRITEBYTECODE: "1",
    LIVEKIT_API_KEY: opts.apiKey,
    LIVEKIT_API_SECRET: opts.apiSecret,
    // Set explicitly: the plugins prefer these over LIVEKIT_API_* when present anywhere.
    LIVEKIT_INFERENCE_API_KEY: opts.apiKey,
    LIVEKIT_INFERENCE_API_SECRET: opts.apiSecret,
    LIVEKIT_INFERENCE_URL: opts.inferenceUrl,
    ...opts.env,
  };
  if (opts.livekitUrl) env.LIVEKIT_URL = opts.livekitUrl;
  if (opts.diagnostics) env.PYTHONPATH = DIAG_DIR;
  return env;
}

/** One parsed JSON log line of the peer (`start` writes JSON; other modes may not). */
export interface PeerLogLine extends Record<string, unknown> {
  message: string;
  level?: string;
}

/** Parses a JSON log line of the Python worker, or undefined for anything else. */
export function parseLogLine(line: string): PeerLogLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const o = JSON.parse(line);
    return typeof o?.message === "string" ? o : undefined;
  } catch {
    return undefined;
  }
}

/** How long helper processes may outlive the main process's exit before they count as leftovers. */
export const LEFTOVER_GRACE_MS = 2_000;

/** One process's pending asyncio tasks, each with its await chain (innermost last). */
export type TaskDump = { task: string; awaits: string[] }[];

/** How a stop ended. */
export interface StopResult {
  /** Exit code of the main process (128 + signal number when a signal ended it). */
  code: number;
  /** True when the grace ran out and the tree was killed by PID. */
  forced: boolean;
  /** ms from the signal to the main process's exit. */
  exitMs: number;
  /** Processes of its tree still alive after it exited by itself (killed by PID). */
  leftovers: number[];
}

/**
 * An agent's process tree (the Python peer, or this project's worker under Deno or Node in the
 * side-by-side room runs): output stamped line by line, every PID of the tree remembered, a
 * signal with a grace period, then everything ended by PID.
 */
export class PeerProcess {
  /** Output lines, stamped with this process's `performance.now()`. */
  readonly child: Child;
  /** Every PID ever seen in its tree (sampled), so stragglers can be ended by PID. */
  readonly seenPids = new Set<number>();
  #sampler: ReturnType<typeof setInterval>;

  constructor(cmd: string, args: string[], env: Record<string, string>, cwd: string) {
    this.child = new Child(cmd, args, { env, cwd });
    this.seenPids.add(this.child.pid);
    // Workers fork job processes and helpers (Python: a forkserver; agents-js: an inference
    // process); remember them all.
    this.#sampler = setInterval(() => this.#sample(), 100);
    void this.child.exited.then(() => clearInterval(this.#sampler));
  }

  /** PID of the main process. */
  get pid(): number {
    return this.child.pid;
  }

  #sample(): number[] {
    if (this.child.done) return [];
    const now = descendants(this.child.pid);
    for (const p of now) this.seenPids.add(p);
    return now;
  }

  /**
   * Asks `pid` (default: every live process of the tree) for its pending asyncio tasks (needs
   * `diagnostics: true`) and resolves with the dumps that arrive within `timeoutMs`.
   */
  async taskDump(pid?: number, timeoutMs = 3_000): Promise<TaskDump[]> {
    const before = this.child.lines.length;
    const pids = pid !== undefined ? [pid] : [this.child.pid, ...this.#sample()];
    for (const p of pids) {
      try {
        Deno.kill(p, "SIGUSR2");
      } catch { /* gone */ }
    }
    const dumps = () =>
      this.child.lines.slice(before).flatMap((l) => {
        if (!l.line.startsWith('{"task_dump"')) return [];
        try {
          return [JSON.parse(l.line).task_dump as TaskDump];
        } catch {
          return [];
        }
      });
    const deadline = performance.now() + timeoutMs;
    while (dumps().length < pids.length && performance.now() < deadline && !this.child.done) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return dumps();
  }

  /** Parsed JSON lines so far. */
  logs(): PeerLogLine[] {
    return this.child.lines.flatMap((l) => parseLogLine(l.line) ?? []);
  }

  /** Resolves with the first line matching `re` (past or future); rejects after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<{ t: number; line: string }> {
    return Promise.race([
      this.child.waitForLine(re, timeoutMs),
      this.child.exited.then(async () => {
        // Give the output pumps a moment to deliver what came before the exit.
        await new Promise((r) => setTimeout(r, 50));
        const hit = this.child.lines.find((l) => re.test(l.line));
        if (hit) return hit;
        throw new Error(`python peer exited before ${re}:\n${this.child.tail(20)}`);
      }),
    ]);
  }

  /**
   * Sends `signal` to the main process (`null`: none, it was sent earlier), waits up to
   * `graceMs` for it to exit, then ends every process of its tree by PID (SIGKILL). Also ends,
   * by PID, any process of the tree that outlived a clean exit (reported in `leftovers`).
   */
  async stop(signal: Deno.Signal | null = "SIGTERM", graceMs = 10_000): Promise<StopResult> {
    const t0 = performance.now();
    this.#sample();
    if (!this.child.done && signal !== null) {
      try {
        Deno.kill(this.child.pid, signal);
      } catch { /* already gone */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.child.exited.then((e) => e),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), graceMs)),
    ]);
    clearTimeout(timer);
    const forced = exited === undefined;
    // The forkserver and resource tracker exit when they see the main process's pipes close,
    // a moment after it: give them LEFTOVER_GRACE_MS before calling them leftovers.
    const settle = performance.now() + LEFTOVER_GRACE_MS;
    while (!forced && this.#alive().length > 0 && performance.now() < settle) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const leftovers = this.#alive();
    await this.kill();
    const e = await this.child.exited;
    const sig = e.status.signal;
    return {
      code: sig ? 128 + signalNumber(sig) : e.status.code,
      forced,
      exitMs: e.t - t0,
      leftovers: forced ? [] : leftovers,
    };
  }

  /** PIDs ever seen in the tree that are still alive (and not zombies). */
  #alive(): number[] {
    return [...this.seenPids].filter((pid) => {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
      } catch {
        return false;
      }
    });
  }

  /** Ends the whole tree by PID at once (SIGKILL) and waits for the main process. Idempotent. */
  async kill(): Promise<void> {
    clearInterval(this.#sampler);
    this.#sample();
    // Everything ever seen first: a process that outlived the main one may still hold its
    // stdout, and the output pumps would wait for it.
    for (const pid of this.#alive()) {
      if (pid === this.child.pid) continue;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await this.child.kill();
    // SIGKILL is delivered asynchronously: wait (bounded) until none of them is running.
    const until = performance.now() + LEFTOVER_GRACE_MS;
    while (this.#alive().length > 0 && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** `python exit_message.py start|dev --log-level ...` against `opts.livekitUrl`. */
export function startPythonWorker(peer: PythonPeer, opts: PythonWorkerOptions): PeerProcess {
  const args = [peer.entry, opts.mode, "--log-level", opts.logLevel ?? "DEBUG"];
  if (opts.mode === "start" && opts.drainTimeoutS !== undefined) {
    args.push("--drain-timeout", String(opts.drainTimeoutS));
  }
  return new PeerProcess(peer.python, args, peerEnv(opts), opts.cwd ?? peer.dir);
}

/**
 * `python -m livekit.agents console exit_message.py --connect-addr HOST:PORT`: the recipe as
 * `lk agent console` runs it, dialing the broker at `connectAddr`.
 */
export function startPythonConsole(
  peer: PythonPeer,
  opts: PeerRunOptions & { connectAddr: string },
): PeerProcess {
  // In its own session (setsid execs in place, so the PID stays the agent's): a second SIGINT
  // or SIGTERM makes livekit-agents' console mode SIGKILL its whole process group, which would
  // otherwise be the bench's own.
  return new PeerProcess(
    "setsid",
    [
      peer.python,
      "-m",
      "livekit.agents",
      "console",
      peer.entry,
      "--connect-addr",
      opts.connectAddr,
    ],
    peerEnv(opts),
    opts.cwd ?? peer.dir,
  );
}

/** The worker's `registered worker` log line: its id and when it was seen. */
export interface Registered {
  workerId: string;
  t: number;
}

/** Waits for the worker's `registered worker` line (JSON in `start`, text in `dev`). */
export async function waitRegistered(
  p: PeerProcess,
  timeoutMs: number,
): Promise<Registered> {
  const hit = await p.waitForLine(/registered worker/, timeoutMs);
  const json = parseLogLine(hit.line);
  const id = typeof json?.id === "string" ? json.id : /"id": "([^"]+)"/.exec(hit.line)?.[1];
  return { workerId: id ?? "", t: hit.t };
}
