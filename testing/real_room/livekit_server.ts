/**
 * The real LiveKit server for tests and benchmarks: built once per machine from the Go module
 * proxy (pinned), started on free ports with an explicit config, checked healthy, ended by PID.
 *
 * It runs inside the test sandbox (see `sandbox.ts`): signalling and the server API on
 * 127.0.0.1, media on the sandbox's private address, which the server advertises as its
 * `node_ip`. A single node needs no Redis; nodes given the same Redis (`redis_server.ts`) and keys
 * form one cluster.
 *
 * @module
 */
import { textLines } from "../lines.ts";
import { createSocket } from "node:dgram";
import { AgentDispatchClient, RoomServiceClient } from "livekit-server-sdk";
import { SANDBOX_ADDRESS } from "./sandbox.ts";
import { bounded, until } from "../wait.ts";

/** The pinned server: the newest tag whose go.mod has no `replace` directive. */
export const LIVEKIT_SERVER_VERSION = "v1.13.5";
/** Its Go package (the module kept the livekit-server path after the repository moved). */
export const LIVEKIT_SERVER_PACKAGE = "github.com/livekit/livekit-server/cmd/server";
/** Points at a server binary to use instead of the cached build (a LiveKit install). */
export const SERVER_BIN_ENV = "LIVEKIT_SERVER_BIN";
/** The one command that builds the pinned server into the cache. */
export const BUILD_COMMAND = "deno task livekit-server";

/** Where the pinned build lives: `$XDG_CACHE_HOME` (or `~/.cache`)`/exit-message/...`. */
export function serverCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/exit-message/livekit-server-${LIVEKIT_SERVER_VERSION}`;
}

/** A server binary, or why there is none and what fixes it. */
export type ServerLookup = { path: string; source: string } | { problem: string };

function executable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Finds a server: `LIVEKIT_SERVER_BIN`, else the pinned build in the cache, else
 * `livekit-server` on PATH (a LiveKit install, e.g. `brew install livekit`).
 */
export function findServer(): ServerLookup {
  const fromEnv = Deno.env.get(SERVER_BIN_ENV);
  if (fromEnv) {
    return executable(fromEnv)
      ? { path: fromEnv, source: SERVER_BIN_ENV }
      : { problem: `${SERVER_BIN_ENV}=${fromEnv} is not an executable file` };
  }
  const cached = `${serverCacheDir()}/server`;
  if (executable(cached)) return { path: cached, source: `build ${LIVEKIT_SERVER_VERSION}` };
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    if (executable(`${dir}/livekit-server`)) {
      return { path: `${dir}/livekit-server`, source: "PATH" };
    }
  }
  return {
    problem:
      `no livekit-server: run \`${BUILD_COMMAND}\` (needs Go; builds ${LIVEKIT_SERVER_VERSION} ` +
      `from the Go module proxy) or set ${SERVER_BIN_ENV}`,
  };
}

/**
 * Builds the pinned server into {@link serverCacheDir} with `go install` (pure Go, CGO off).
 * Takes a few minutes the first time; the Go module cache makes a rebuild fast. Returns the path.
 */
export async function buildServer(
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  const dir = serverCacheDir();
  const target = `${dir}/server`;
  if (executable(target)) return target;
  await Deno.mkdir(dir, { recursive: true });
  log(
    `building livekit-server ${LIVEKIT_SERVER_VERSION} from the Go module proxy into ${dir} ` +
      "(once per machine, a few minutes)",
  );
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("go", {
      args: ["install", `${LIVEKIT_SERVER_PACKAGE}@${LIVEKIT_SERVER_VERSION}`],
      env: { CGO_ENABLED: "0", GOBIN: dir },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("`go` is not installed; install Go 1.26 or set LIVEKIT_SERVER_BIN");
    }
    throw error;
  }
  if (!output.success || !executable(target)) {
    throw new Error(`go install ${LIVEKIT_SERVER_PACKAGE}@${LIVEKIT_SERVER_VERSION} failed`);
  }
  return target;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A free UDP port on `hostname` (bound, then released). */
export async function freeUdpPort(hostname: string): Promise<number> {
  // node:dgram, because Deno.listenDatagram is still behind --unstable-net.
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, hostname, () => resolve());
  });
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** The binary (default: {@link findServer}). */
  binary?: string;
  /** Address advertised for media (default {@link SANDBOX_ADDRESS}). */
  nodeIp?: string;
  /** API key (default `testkey`). */
  apiKey?: string;
  /** API secret (default: a fresh random one, 32+ characters as the server requires). */
  apiSecret?: string;
  /** Seconds an empty room lives after its last participant left (server default 20). */
  departureTimeoutS?: number;
  /** Mirror the server's log lines to stderr (`LIVEKIT_SERVER_ECHO=1`). */
  echo?: boolean;
  /**
   * `HOST:PORT` of a Redis shared with other nodes (see `redis_server.ts`): the nodes then form
   * one cluster. Nodes of one cluster must share the key pair too. Without it: a single node.
   */
  redis?: string;
  /** Where the server posts its webhooks (`webhook.urls`), signed with {@link apiKey}. */
  webhookUrls?: string[];
  /** A name for this node in echoed log lines and failure messages (default `livekit-server`). */
  label?: string;
}

/** One parsed JSON log line of the server. */
export interface ServerLogLine extends Record<string, unknown> {
  /** `info`, `warn`, `debug`... */
  level: string;
  /** The message. */
  msg: string;
  /** `Date.now()` when this process read the line. */
  readAt: number;
}

interface LogWaiter {
  test: (line: ServerLogLine) => boolean;
  resolve: (line: ServerLogLine) => void;
}

/** A running livekit-server. */
export class LiveKitServer {
  /** `ws://127.0.0.1:PORT`: what `LIVEKIT_URL` takes. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`: the server API. */
  readonly httpUrl: string;
  /** API key the server accepts. */
  readonly apiKey: string;
  /** Its secret. */
  readonly apiSecret: string;
  /** Every log line so far (JSON lines parsed; anything else as `msg`). */
  readonly logs: ServerLogLine[] = [];
  /** Rooms API. */
  readonly rooms: RoomServiceClient;
  /** Explicit agent dispatch API. */
  readonly dispatch: AgentDispatchClient;
  /** Its name in echoed lines and failure messages. */
  label = "livekit-server";
  readonly #config: string;
  readonly #binary: string;
  readonly #echo: boolean;
  #child?: Deno.ChildProcess;
  #pump?: Promise<void>;
  #waiters: LogWaiter[] = [];

  private constructor(
    binary: string,
    config: string,
    port: number,
    key: string,
    secret: string,
    echo: boolean,
  ) {
    this.#binary = binary;
    this.#config = config;
    this.#echo = echo;
    this.url = `ws://127.0.0.1:${port}`;
    this.httpUrl = `http://127.0.0.1:${port}`;
    this.apiKey = key;
    this.apiSecret = secret;
    this.rooms = new RoomServiceClient(this.httpUrl, key, secret);
    this.dispatch = new AgentDispatchClient(this.httpUrl, key, secret);
  }

  /** Starts a server on free ports and resolves once it answers its health check. */
  static async start(options: ServerOptions = {}): Promise<LiveKitServer> {
    let binary = options.binary;
    if (!binary) {
      const found = findServer();
      if ("problem" in found) throw new Error(found.problem);
      binary = found.path;
    }
    const nodeIp = options.nodeIp ?? SANDBOX_ADDRESS;
    const apiKey = options.apiKey ?? "testkey";
    const apiSecret = options.apiSecret ?? `secret-${crypto.randomUUID()}`;
    const port = freeTcpPort();
    const config = JSON.stringify({
      port,
      // Signalling and API on loopback; media on the sandbox address (the only one libwebrtc uses).
      bind_addresses: ["127.0.0.1", nodeIp],
      keys: { [apiKey]: apiSecret },
      rtc: {
        tcp_port: freeTcpPort(nodeIp),
        udp_port: await freeUdpPort(nodeIp),
        use_external_ip: false,
        node_ip: nodeIp,
        enable_loopback_candidate: false,
      },
      room: { departure_timeout: options.departureTimeoutS ?? 20 },
      logging: { json: true, level: "info" },
      ...(options.redis ? { redis: { address: options.redis } } : {}),
      ...(options.webhookUrls?.length
        ? { webhook: { api_key: apiKey, urls: options.webhookUrls } }
        : {}),
    });
    const echo = options.echo ?? Deno.env.get("LIVEKIT_SERVER_ECHO") === "1";
    const server = new LiveKitServer(binary, config, port, apiKey, apiSecret, echo);
    server.label = options.label ?? "livekit-server";
    await server.#launch();
    return server;
  }

  /** PID of the server process (undefined once stopped). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #launch(): Promise<void> {
    // The config goes in by environment, not argv, so the secret is not in `ps` output.
    this.#child = new Deno.Command(this.#binary, {
      args: [],
      env: { LIVEKIT_CONFIG: this.#config },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    this.#pump = Promise.all([this.#read(child.stdout), this.#read(child.stderr)]).then(() => {});
    // It exits 0 even when it fails to start, so only its health answer counts.
    const exited = child.status.then((s) => {
      throw new Error(`livekit-server exited (${s.code}) before it was healthy:\n${this.tail()}`);
    });
    const healthy = until(
      async () => {
        try {
          const res = await fetch(`${this.httpUrl}/`);
          const text = await res.text();
          return res.ok && text.trim() === "OK" ? true : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      `livekit-server health answer on ${this.httpUrl}`,
    );
    try {
      await Promise.race([healthy, exited]);
    } catch (error) {
      await this.stop();
      throw error;
    }
    exited.catch(() => {}); // a later exit is expected (stop, kill)
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of textLines(stream)) this.#line(text);
  }

  #line(text: string): void {
    if (!text.trim()) return;
    if (this.#echo) console.error(`[${this.label}] ${text}`);
    let line: ServerLogLine;
    try {
      line = { ...JSON.parse(text), readAt: Date.now() };
    } catch {
      line = { level: "info", msg: text, readAt: Date.now() };
    }
    this.logs.push(line);
    for (const w of [...this.#waiters]) {
      if (w.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** Resolves with the first log line (already read or future) that passes `test`. */
  waitForLog(
    test: (line: ServerLogLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<ServerLogLine> {
    const seen = this.logs.find(test);
    if (seen) return Promise.resolve(seen);
    let waiter: LogWaiter | undefined;
    const found = new Promise<ServerLogLine>((resolve) => {
      waiter = { test, resolve };
      this.#waiters.push(waiter);
    });
    return bounded(found, timeoutMs, () => {
      this.#waiters.splice(this.#waiters.indexOf(waiter!), 1);
      return `${this.label} logged no ${what} within ${timeoutMs} ms; last lines:\n${this.tail()}`;
    });
  }

  /** The last log lines, for failure messages. */
  tail(n = 15): string {
    return this.logs.slice(-n).map((l) => `${l.level} ${l.msg} ${JSON.stringify(l).slice(0, 300)}`)
      .join("\n");
  }

  /** Names of the rooms the server holds now. */
  async roomNames(): Promise<string[]> {
    return (await this.rooms.listRooms()).map((r) => r.name);
  }

  /** Kills the server at once (SIGKILL), as a crash would; {@link restart} brings it back. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await this.#pump;
    this.#child = undefined;
  }

  /** Starts the server again on the same ports and keys (after {@link kill}). */
  async restart(): Promise<void> {
    if (this.#child) throw new Error("livekit-server is still running; kill() it first");
    await this.#launch();
  }

  /**
   * Ends the server by PID. SIGKILL, because its graceful stop waits for participants to leave
   * and then up to 5 s for its HTTP server, and it keeps no state on disk that a kill could
   * corrupt. Idempotent.
   */
  async stop(): Promise<void> {
    await this.kill();
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

if (import.meta.main) {
  // `deno task livekit-server`: build the pinned server once and print its path.
  try {
    console.log(await buildServer());
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
