/**
 * A real LiveKit room for tests: the real livekit-server, the loopback Inference simulation, a
 * caller process, and workers running this project's `main.ts` (the real agent), all inside the
 * test sandbox. Everything is ended by PID when the fixture is disposed.
 *
 * ```ts
 * realRoomTest("a call", async () => {
 *   await using room = await RealRoom.start();
 *   const worker = await room.startWorker();
 *   const caller = await room.call();
 *   await caller.say(HELLO);
 * });
 * ```
 *
 * @module
 */
import {
  type Gateway,
  type GatewayOptions,
  offlineBrain,
  phrasePitches,
  startGateway,
} from "../../simulation/mod.ts";
import { type Caller, type CallerOptions, CallerProcess, type ServerAccess } from "./caller/mod.ts";
import { findRedis, RedisServer } from "./redis_server.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import { findServer, freeTcpPort, LiveKitServer, type ServerOptions } from "./livekit_server.ts";
import { REQUIRE_ENV, sandboxProblem } from "./sandbox.ts";
import { BLANK_ENV, type SpawnOptions, spawnWorker, type WorkerProcess } from "./worker_process.ts";
import { isAlive } from "../../core/process_tree.ts";
import { until } from "../wait.ts";

/** What the caller says to open (a phrase the simulated STT recognizes, see {@link PHRASES}). */
export const HELLO = "Hello there!";
/** What the caller says to end the call (the offline brain then calls `end_session`). */
export const BYE = "Okay, thanks. Goodbye!";
/** A question, so a call can go on for a turn more. */
export const QUESTION = "Could you tell me a little more about what you can do for me?";
/** The phrasebook the simulated STT recognizes (see `Phrasebook`). */
export const PHRASES = [HELLO, BYE, QUESTION] as const;

const PHRASE_PITCH = phrasePitches(PHRASES);

/** How a caller says the phrases: each at its pitch in {@link PHRASES}. */
export const CALLER_VOICE: CallerOptions = { pitchOf: (text) => PHRASE_PITCH.get(text) };

/** The offline brain's answer to {@link HELLO}, as it is synthesized (its first sentence). */
export const HELLO_REPLY_FIRST_SENTENCE = "Hello! Nice to hear you.";

/** Synthetic model latencies of the simulation in these tests (first token, first audio). */
export const MODEL_LATENCY = { llmFirstTokenMs: 200, ttsFirstAudioMs: 100 } as const;

/**
 * Why real-room tests cannot run here (no sandbox, no server), with the command that fixes it;
 * `undefined` when they can.
 */
export function realRoomProblem(needs: { redis?: boolean } = {}): string | undefined {
  const sandbox = sandboxProblem();
  if (sandbox) return sandbox;
  const server = findServer();
  if ("problem" in server) return server.problem;
  const redis = needs.redis ? findRedis() : undefined;
  return redis && "problem" in redis ? redis.problem : undefined;
}

/**
 * `Deno.test` for a real-room test: reported as ignored, with the reason and the fix in its
 * name, where no sandbox or server (or, for a cluster, no Redis) can be had; with
 * `REQUIRE_REAL_ROOM=1` (CI) it runs and fails with that reason instead.
 */
export function realRoomTest(
  name: string,
  fn: () => Promise<void>,
  needs: { redis?: boolean } = {},
): void {
  const problem = realRoomProblem(needs);
  const required = Deno.env.get(REQUIRE_ENV) === "1";
  Deno.test({
    name: problem && !required ? `${name} (ignored: ${problem})` : name,
    ignore: problem !== undefined && !required,
    fn: problem
      ? () => {
        throw new Error(`real-room test cannot run: ${problem}`);
      }
      : fn,
  });
}

/** Options of {@link RealRoom.start}. */
export interface RealRoomOptions {
  /** Gateway options on top of the defaults (offline brain, phrasebook, {@link MODEL_LATENCY}). */
  gateway?: Partial<GatewayOptions>;
  /** Seconds an empty room lives after its last participant left (server default 20). */
  departureTimeoutS?: number;
  /** Further options of the server (webhooks, a Redis for a cluster). */
  server?: Omit<ServerOptions, "departureTimeoutS">;
  /**
   * Run the call keeper (`main.ts keeper`) with these extra flags, the server's webhooks posted
   * to it: see {@link RealRoom.keeper}.
   */
  keeper?: string[];
  /**
   * Run a cluster of this many livekit-server nodes sharing one Redis (started here, on
   * loopback) and one key pair, instead of a single node: see {@link RealRoom.nodes}.
   */
  cluster?: number;
}

/** One parsed JSON log line of a worker or job process. */
export interface LogLine extends Record<string, unknown> {
  /** The message. */
  msg: string;
}

/** A real room and everything around it. */
export class RealRoom {
  readonly server: LiveKitServer;
  readonly gateway: Gateway;
  readonly phones: CallerProcess;
  /** The call keeper process, when {@link RealRoomOptions.keeper} asked for one. */
  keeper?: WorkerProcess;
  /** Every node: the {@link server} first, then the others of a cluster. */
  readonly nodes: LiveKitServer[];
  /** The cluster's Redis, when {@link RealRoomOptions.cluster} asked for one. */
  redis?: RedisServer;
  /**
   * A cluster's address (a failover proxy over the nodes, in order, standing in for its load
   * balancer): the `LIVEKIT_URL` of the workers and the keeper, so they reach a node that is up.
   */
  proxy?: TcpProxy;
  readonly #workers: WorkerProcess[] = [];
  #rooms = 0;

  private constructor(nodes: LiveKitServer[], gateway: Gateway, phones: CallerProcess) {
    this.server = nodes[0];
    this.nodes = nodes;
    this.gateway = gateway;
    this.phones = phones;
  }

  /** Starts the call keeper on `port` (the one the server posts its webhooks to). */
  async #startKeeper(port: number, flags: string[]): Promise<void> {
    this.keeper = spawnWorker({
      args: ["keeper", "--port", String(port), "--host", "127.0.0.1", ...flags],
      env: this.agentEnv(),
    });
    await this.keeper.waitForLine(/keeping calls/, 30_000);
  }

  /** Starts the server, the simulation and a caller process. */
  static async start(options: RealRoomOptions = {}): Promise<RealRoom> {
    const keeperPort = options.keeper ? freeTcpPort() : undefined;
    const redis = options.cluster ? await RedisServer.start() : undefined;
    const nodes: LiveKitServer[] = [];
    let gateway: Gateway | undefined;
    try {
      const nodeOptions: ServerOptions = {
        ...options.server,
        webhookUrls: [
          ...options.server?.webhookUrls ?? [],
          ...keeperPort ? [`http://127.0.0.1:${keeperPort}/`] : [],
        ],
        departureTimeoutS: options.departureTimeoutS,
        redis: redis?.address,
        // Nodes of one cluster share the key pair.
        apiSecret: options.server?.apiSecret ?? `secret-${crypto.randomUUID()}`,
      };
      for (let i = 0; i < Math.max(1, options.cluster ?? 1); i++) {
        nodes.push(
          await LiveKitServer.start({ ...nodeOptions, label: redis ? `node-${i + 1}` : undefined }),
        );
      }
      const server = nodes[0];
      gateway = await startGateway({
        llm: offlineBrain(),
        sttPhrasebook: PHRASES,
        // Anything else the STT hears (a fragment of a phrase cut by a starved process, on a
        // loaded machine) is transcribed as nothing, so it cannot become a turn of its own...
        sttDefaultTranscripts: [],
        // ...and a pause inside a phrase must be long before it splits the phrase in two.
        speech: { endSilenceMs: 600 },
        latency: MODEL_LATENCY,
        ...options.gateway,
        apiKey: server.apiKey,
        apiSecret: server.apiSecret,
      });
      const phones = await CallerProcess.start(CALLER_VOICE);
      const room = new RealRoom(nodes, gateway, phones);
      room.redis = redis;
      if (redis) {
        room.proxy = TcpProxy.start(() => nodes.map((n) => Number(new URL(n.httpUrl).port)));
      }
      if (keeperPort && options.keeper) {
        try {
          await room.#startKeeper(keeperPort, options.keeper);
        } catch (error) {
          await room.keeper?.stop();
          await phones.stop();
          throw error;
        }
      }
      return room;
    } catch (error) {
      await gateway?.close();
      for (const node of nodes) await node.stop();
      await redis?.stop();
      throw error;
    }
  }

  /** A room name not used before in this fixture. */
  freshRoom(prefix = "call"): string {
    return `${prefix}-${++this.#rooms}-${crypto.randomUUID().slice(0, 6)}`;
  }

  /**
   * The environment of an agent process pointed at this server (a cluster's {@link proxy}) and
   * simulation.
   */
  agentEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...BLANK_ENV,
      LIVEKIT_URL: this.proxy?.url ?? this.server.url,
      LIVEKIT_API_KEY: this.server.apiKey,
      LIVEKIT_API_SECRET: this.server.apiSecret,
      LIVEKIT_INFERENCE_URL: this.gateway.url,
      // VAD endpointing: turns end 0.5 s after speech, whatever the end-of-turn model does.
      TURN_DETECTION: "vad",
      ...extra,
    };
  }

  /**
   * Starts `main.ts <args>` (default `start`) with one idle process, any health port and capacity
   * counted in calls (`--max-jobs 8`, not CPU load: the callers, the server and the test share
   * the machine's cores), and waits until it registered.
   */
  async startWorker(
    args: string[] = ["start"],
    env: Record<string, string> = {},
    options: {
      waitForRegistration?: boolean;
      defaults?: string[];
      /** Another agent script than `main.ts` (a test's agent, run by the same worker glue). */
      script?: string;
      /** Another runtime's command line (the benchmark's Node peer). */
      spawn?: Pick<SpawnOptions, "cmd" | "prefix" | "cwd">;
    } = {},
  ): Promise<WorkerProcess> {
    const defaults = options.defaults ??
      (args.includes("start")
        ? ["--port", "0", "--num-idle-processes", "1", "--max-jobs", "8"]
        : []);
    const worker = spawnWorker({
      ...options.spawn,
      script: options.script,
      args: [...args, ...defaults],
      env: this.agentEnv(env),
    });
    this.#workers.push(worker);
    if (options.waitForRegistration ?? true) {
      await worker.waitForLine(/registered worker/, 30_000);
    }
    return worker;
  }

  /**
   * Joins `room` (default: a fresh one) as a caller, through `via` (default the first node), and
   * waits for the agent to join and publish.
   */
  async call(
    room = this.freshRoom(),
    timeoutMs = 30_000,
    via: ServerAccess = this.server,
  ): Promise<Caller> {
    const caller = await this.phones.join(via, room);
    try {
      await caller.waitForAgent(timeoutMs);
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : error}\n${this.diagnostics()}`);
    }
    return caller;
  }

  /** What the server said about workers and jobs, and the workers' last lines: for failures. */
  diagnostics(): string {
    const server = this.server.logs
      .filter((l) => /worker|job|dispatch/i.test(l.msg))
      .slice(-12)
      .map((l) =>
        `  ${l.msg} ${JSON.stringify({ room: l.room, status: l.status, error: l.error })}`
      );
    const workers = this.#workers.map((w, i) =>
      `worker ${i} (pid ${w.pid}) last lines:\n${
        w.lines.filter((l) => !l.includes('"level":20')).slice(-15).map((l) =>
          `  ${l.slice(0, 300)}`
        )
          .join("\n")
      }`
    );
    const keeper = this.keeper
      ? [`keeper (pid ${this.keeper.pid}) last lines:\n${this.keeper.tail(10)}`]
      : [];
    return [`server (jobs and workers):`, ...server, ...workers, ...keeper].join("\n");
  }

  /** Ends every worker (and its job processes), the callers, the simulation and the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    const results = await Promise.allSettled([
      ...this.#workers.map((w) => w.stop()),
      ...this.keeper ? [this.keeper.stop()] : [],
      this.phones.stop(),
    ]);
    await this.gateway.close();
    await this.proxy?.close();
    for (const node of this.nodes) await node.stop();
    await this.redis?.stop();
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }
}

/** The JSON log lines of a worker (and its job processes) so far, from its output line `from` on. */
export function jsonLines(worker: WorkerProcess, from = 0): LogLine[] {
  const out: LogLine[] = [];
  for (const line of worker.lines.slice(from)) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut by the process's exit
    }
  }
  return out;
}

/** Waits for the `session ended` line of the session in `room` and returns it parsed. */
export async function sessionEnded(
  worker: WorkerProcess,
  room: string,
  timeoutMs: number,
): Promise<LogLine> {
  const line = await worker.waitForLine(
    new RegExp(`"room":"${room}".*"msg":"session ended: `),
    timeoutMs,
  );
  return JSON.parse(line);
}

/**
 * Waits until the job that logged `ended` (its `session ended` line) is over in the worker: its
 * call host reported it ended (calls sharing a process), or, with `CALLS_PER_PROCESS=1`, its
 * job process exited. Returns how it ended.
 */
export async function jobFinished(
  worker: WorkerProcess,
  ended: LogLine,
  timeoutMs: number,
): Promise<{ via: "host"; code: number | null } | { via: "process"; pid: number }> {
  const jobId = ended.jobID;
  if (typeof jobId !== "string") throw new Error(`no jobID in ${JSON.stringify(ended)}`);
  if (ended.call_host === true) {
    const line = await worker.waitForLine(
      new RegExp(`"jobID":"${jobId}".*"msg":"job ended in its call host"`),
      timeoutMs,
    );
    return { via: "host", code: JSON.parse(line).code };
  }
  const pid = ended.pid;
  if (typeof pid !== "number") throw new Error(`no pid in ${JSON.stringify(ended)}`);
  await until(() => !isAlive(pid) || undefined, timeoutMs, `job process ${pid} to end`);
  return { via: "process", pid };
}
