/**
 * The agents of the side-by-side room runs, one interface over three runtimes: this project's
 * `main.ts start` under Deno, the same files under Node (the Node peer, `bench/node_peer/`), and
 * LiveKit's Python recipe (`exit_message.py start`), each against a {@link RealRoom}'s
 * livekit-server and Inference simulation, each with its production defaults (idle processes,
 * CPU-based capacity, drain timeout) unless asked to count capacity in calls
 * ({@link RoomAgentOptions.maxJobs}). The health port differs: `--port 0` for this project (the
 * recipe has no such option and binds 8081; the runs start one worker at a time).
 *
 * Calls reach an agent by automatic dispatch, which the server decides once, when the room is
 * created, and only for a worker that reports itself available. Both frameworks mark themselves
 * full above 0.7 of the machine's CPU, which a shared 2-core machine crosses now and then:
 * {@link callAgent} waits for the worker's last capacity line to say "available" and retries
 * with fresh rooms, bounded, and reports how many rooms it took.
 *
 * @module
 */
import type { Caller } from "../../testing/real_room/caller/mod.ts";
import type { RealRoom } from "../../testing/real_room/real_room.ts";
import { BLANK_ENV } from "../../testing/real_room/worker_process.ts";
import { isAlive } from "../../core/process_tree.ts";
import { join, ROOT } from "../node_peer/paths_root.ts";
import type { NodePeer } from "../node_peer/setup.ts";
import { childEnv, NODE_PEER_ENV } from "../runtimes.ts";
import { pssKiB, sleep, treeMemory } from "../proc.ts";
import { exitFlowTasks, type StuckTask } from "./console_run.ts";
import { peerEnv, PeerProcess, type StopResult } from "./launcher.ts";
import type { PythonPeer } from "./setup.ts";

/** The three agents compared. */
export type AgentRuntime = "deno" | "node" | "python";

/** The prepared peers (absent ones cannot run). */
export interface Peers {
  python?: PythonPeer;
  node?: NodePeer;
}

/** Options of {@link RoomAgent.start}. */
export interface RoomAgentOptions {
  /**
   * Log level. Behaviour runs use `debug` for Python (its `session closed` and `executing tool`
   * lines are debug); performance runs `info` on every side.
   */
  logLevel?: "debug" | "info";
  /**
   * `TURN_DETECTION` of this project's agent; empty (default) = its production default. The
   * recipe always runs its own default (livekit-agents' local turn detector).
   */
  turnDetection?: string;
  /** Bound on launch → registered. */
  registerTimeoutMs?: number;
  /**
   * Capacity counted in calls instead of CPU use, full at this many: `--max-jobs` for this
   * project; for the recipe, which has no option, `diag/sitecustomize.py` sets livekit-agents'
   * worker load to active jobs / this. Unset: production capacity (CPU use, full at 0.7).
   */
  maxJobs?: number;
  /** Further environment of this project's worker (e.g. `CALLS_PER_PROCESS`); unused by the recipe. */
  env?: Record<string, string>;
}

/** One JSON log line of an agent, with the time this process read it. */
export interface AgentLine {
  /** `performance.now()` when read. */
  t: number;
  /** `msg` (pino, agents-js) or `message` (Python logging). */
  msg: string;
  /** The whole parsed object. */
  json: Record<string, unknown>;
}

/** Parses one output line of any of the three workers, or undefined when it is not a JSON log. */
export function parseAgentLine(t: number, line: string): AgentLine | undefined {
  const at = line.indexOf("{");
  if (at < 0) return undefined;
  try {
    const json = JSON.parse(line.slice(at));
    const msg = typeof json?.msg === "string"
      ? json.msg
      : typeof json?.message === "string"
      ? json.message
      : undefined;
    return msg === undefined ? undefined : { t, msg, json };
  } catch {
    return undefined;
  }
}

/**
 * The first crash in a worker's output (its JSON log lines aside): the error's first line and,
 * when there is one, the first stack frame inside a package (where it broke).
 */
export function crashIn(lines: string[]): string | undefined {
  const text = lines.filter((l) => !l.startsWith("{"));
  const at = text.findIndex((l) => /^(\w*Error\b|Error \[|Uncaught|thread '.*' panicked)/.test(l));
  if (at < 0) return undefined;
  const frame = text.slice(at + 1, at + 30).find((l) => /node_modules\//.test(l))?.trim()
    .replace(/^at .*?\(?\/\S*node_modules\//, "at ").replace(/\)$/, "");
  return `${text[at].trim().slice(0, 120)}${frame ? ` ${frame}` : ""}`;
}

/** True when the last capacity line of a worker says it is available (or there is none). */
export function availableFrom(messages: string[]): boolean {
  const last = messages.filter((m) => /full capacity|below capacity/.test(m)).pop();
  return last === undefined || /below capacity/.test(last);
}

/** A worker of one runtime, registered with a real room's server. */
export class RoomAgent {
  /** Launch → `registered worker`, ms. */
  registeredMs = NaN;

  private constructor(
    readonly runtime: AgentRuntime,
    readonly proc: PeerProcess,
    /** Working directory made for this worker (no `.env` in it), removed at the end. */
    readonly scratch?: string,
  ) {}

  /** Starts a worker of `runtime` against `room` and waits until it registered. */
  static async start(
    room: RealRoom,
    runtime: AgentRuntime,
    peers: Peers,
    opts: RoomAgentOptions = {},
  ): Promise<RoomAgent> {
    const level = opts.logLevel ?? "info";
    const endpoints = {
      LIVEKIT_URL: room.server.url,
      LIVEKIT_API_KEY: room.server.apiKey,
      LIVEKIT_API_SECRET: room.server.apiSecret,
      LIVEKIT_INFERENCE_URL: room.gateway.url,
    };
    let proc: PeerProcess;
    let scratch: string | undefined;
    if (runtime === "python") {
      const peer = peers.python;
      if (!peer) throw new Error("the Python peer is not prepared");
      const env = peerEnv({
        livekitUrl: room.server.url,
        apiKey: room.server.apiKey,
        apiSecret: room.server.apiSecret,
        inferenceUrl: room.gateway.url,
        diagnostics: true,
        env: opts.maxJobs ? { EXIT_MESSAGE_BENCH_MAX_JOBS: String(opts.maxJobs) } : {},
      });
      proc = new PeerProcess(
        peer.python,
        [peer.entry, "start", "--log-level", level.toUpperCase()],
        env,
        peer.dir,
      );
    } else {
      const args = ["start", "--port", "0", "--log-level", level];
      if (opts.maxJobs) args.push("--max-jobs", String(opts.maxJobs));
      const env = childEnv({
        ...BLANK_ENV,
        ...endpoints,
        TURN_DETECTION: opts.turnDetection ?? "",
        ...opts.env,
      });
      if (runtime === "deno") {
        // main.ts reads `.env` from its working directory: run it where there is none.
        scratch = await Deno.makeTempDir({ prefix: "side-by-side-deno-" });
        proc = new PeerProcess(
          Deno.execPath(),
          ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "main.ts"), ...args],
          env,
          scratch,
        );
      } else {
        const peer = peers.node;
        if (!peer) throw new Error("the Node peer is not prepared");
        proc = new PeerProcess(peer.node, [...peer.prefix, ...args], {
          ...NODE_PEER_ENV,
          ...env,
        }, peer.dir);
      }
    }
    const agent = new RoomAgent(runtime, proc, scratch);
    try {
      const hit = await proc.waitForLine(/registered worker/, opts.registerTimeoutMs ?? 120_000);
      agent.registeredMs = hit.t - proc.child.startedAt;
    } catch (error) {
      await agent.kill();
      throw error;
    }
    return agent;
  }

  /** PID of the worker's main process. */
  get pid(): number {
    return this.proc.pid;
  }

  /** JSON log lines so far. */
  lines(): AgentLine[] {
    return this.proc.child.lines.flatMap((l) => parseAgentLine(l.t, l.line) ?? []);
  }

  /** Lines logged by the job that served `room` (they carry the room's name). */
  roomLines(room: string): AgentLine[] {
    return this.lines().filter((l) => l.json.room === room && l.json.pid !== this.pid);
  }

  /** PID of the job process that served `room`, from its log lines. */
  jobPid(room: string): number | undefined {
    const pid = this.roomLines(room).find((l) => typeof l.json.pid === "number")?.json.pid;
    return typeof pid === "number" ? pid : undefined;
  }

  /**
   * When (read time) the session in `room` said it closed: this project's `session ended`
   * line, the recipe's `session closed` (debug).
   */
  sessionClosedAt(room: string): number | undefined {
    const re = this.runtime === "python" ? /^session closed$/ : /^session ended: /;
    return this.roomLines(room).find((l) => re.test(l.msg))?.t;
  }

  /** The `session ended` line of this project's agent in `room` (end reason, goodbye outcome). */
  sessionEnded(room: string): Record<string, unknown> | undefined {
    return this.roomLines(room).find((l) => /^session ended: /.test(l.msg))?.json;
  }

  /** True when the job process that served `room` has ended (or never was). */
  jobEnded(room: string): boolean {
    const pid = this.jobPid(room);
    return pid === undefined || !isAlive(pid);
  }

  /** Whether the worker last reported itself available for new jobs. */
  available(): boolean {
    return availableFrom(this.lines().map((l) => l.msg));
  }

  /** The recipe's pending exit-flow tasks in `room`'s job (SIGUSR2 dump); [] elsewhere. */
  async stuckTasks(room: string): Promise<StuckTask[]> {
    const pid = this.jobPid(room);
    if (this.runtime !== "python" || pid === undefined || !isAlive(pid)) return [];
    return (await this.proc.taskDump(pid)).flatMap(exitFlowTasks);
  }

  /** RSS and PSS of the whole tree now, KiB. */
  treeMemory(): { rssKiB: number; pssKiB: number; processes: number } {
    const tree = treeMemory(this.pid);
    return {
      rssKiB: tree.reduce((s, m) => s + m.rssKiB, 0),
      pssKiB: tree.reduce((s, m) => s + pssKiB(m.pid), 0),
      processes: tree.length,
    };
  }

  /**
   * Sends `signal` (`null`: none, it was sent earlier), waits up to `graceMs` for the exit,
   * then ends the tree by PID.
   */
  async stop(signal: Deno.Signal | null, graceMs: number): Promise<StopResult> {
    try {
      return await this.proc.stop(signal, graceMs);
    } finally {
      await this.#removeScratch();
    }
  }

  /** Ends the whole tree by PID at once. Idempotent. */
  async kill(): Promise<void> {
    await this.proc.kill();
    await this.#removeScratch();
  }

  async #removeScratch(): Promise<void> {
    if (this.scratch) await Deno.remove(this.scratch, { recursive: true }).catch(() => {});
  }

  /** A crash a process of the tree printed at or after `since` (`performance.now()`). */
  crash(since: number): string | undefined {
    return crashIn(this.proc.child.lines.filter((l) => l.t >= since).map((l) => l.line));
  }

  /** The last output lines, for failure messages. */
  tail(n = 12): string {
    return this.proc.child.tail(n);
  }
}

/** Bound on waiting for the worker to report itself available before a fresh room. */
export const AVAILABLE_WAIT_MS = 90_000;
/** How long a caller waits in a fresh room for the agent before trying another room. */
export const DISPATCH_WAIT_MS = 10_000;
/** Fresh rooms tried before a call counts as not dispatched. */
export const DISPATCH_ATTEMPTS = 5;

/** A caller with an agent in its room, and how many fresh rooms that took. */
export interface Dispatched {
  caller: Caller;
  /** Fresh rooms created until an agent came (1 = the first). */
  tries: number;
  /** Caller joined → the agent's audio track subscribed, ms (last try). */
  agentJoinMs: number;
}

/** Why no agent came: every try, bounded. */
export class NoDispatch extends Error {
  constructor(readonly tries: number, detail: string) {
    super(`no agent came in ${tries} fresh room(s): ${detail}`);
  }
}

/**
 * Joins fresh rooms until an agent comes: before each, waits (bounded) for the worker's last
 * capacity line to say available; in each, waits {@link DISPATCH_WAIT_MS} for the agent.
 */
export async function callAgent(
  room: RealRoom,
  agent: RoomAgent,
  prefix = "call",
): Promise<Dispatched> {
  let last = "";
  for (let tries = 1; tries <= DISPATCH_ATTEMPTS; tries++) {
    const deadline = performance.now() + AVAILABLE_WAIT_MS;
    while (!agent.available() && performance.now() < deadline) await sleep(100);
    if (!agent.available()) {
      throw new NoDispatch(
        tries - 1,
        `the worker reported full capacity for ${AVAILABLE_WAIT_MS / 1000} s`,
      );
    }
    const caller = await room.phones.join(room.server, room.freshRoom(prefix), {
      timeoutMs: 30_000,
    });
    try {
      const { joinedAt } = await caller.waitForAgent(DISPATCH_WAIT_MS);
      const joined = caller.events().find((e) => e.ev === "joined");
      const sub = caller.events().find((e) => e.ev === "subscribed");
      return {
        caller,
        tries,
        agentJoinMs: (sub?.at ?? joinedAt) - (joined?.at ?? joinedAt),
      };
    } catch (error) {
      last = error instanceof Error ? error.message.split("\n")[0] : String(error);
      await caller.hangup().catch(() => {});
    }
  }
  throw new NoDispatch(DISPATCH_ATTEMPTS, last);
}
