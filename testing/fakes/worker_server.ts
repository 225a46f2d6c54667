/**
 * Loopback stand-in for the LiveKit server's worker endpoint (docs/livekit-wire.md, "Worker
 * mode").
 *
 * Serves on 127.0.0.1 (ephemeral port):
 * - `GET /agent` (websocket): binary protobuf `WorkerMessage` in, `ServerMessage` out. Checks the
 *   Bearer JWT like livekit-server (HS256 with the API secret, `iss` = API key, `video.agent`),
 *   answering 401 with the reason as body; or refuses every worker with a fixed status.
 * - `/rtc` and `/rtc/validate`: always 401, so a job's rtc-node `Room.connect()` to this URL fails
 *   fast and deterministically (no room here: a real room is the real-room rig's,
 *   docs/real-room.md).
 * - `POST /twirp/livekit.RoomService/CreateRoom` (JSON): returns a room, so `connect --room` can run.
 *
 * Nothing here is driven by the stand-in itself: tests script the server side of each exchange
 * (answer register, offer a job, assign, terminate) through {@link WorkerConnection}.
 * @module
 */

import {
  AvailabilityRequest,
  AvailabilityResponse,
  Job,
  JobAssignment,
  JobTermination,
  JobType,
  RegisterWorkerRequest,
  RegisterWorkerResponse,
  Room,
  ServerInfo,
  ServerInfo_Edition,
  ServerMessage,
  SimulateJobRequest,
  UpdateWorkerStatus,
  WorkerMessage,
} from "@livekit/protocol";
import { signToken, verifyToken } from "../../simulation/jwt.ts";

export { signToken, verifyToken } from "../../simulation/jwt.ts";

/** Options for {@link WorkerServerStandIn.start}. */
export interface WorkerServerStandInOptions {
  /** API key the worker's token must be issued by (`iss`). Default `devkey`. */
  apiKey?: string;
  /** Secret the worker's token must be signed with. Default: a fixed 32+ char test secret. */
  apiSecret?: string;
  /**
   * Refuse every `/agent` upgrade with this HTTP status and body (e.g. 401 to test
   * "auth rejected" regardless of the token, 503 for an overloaded server).
   */
  refuseWorkers?: { status: number; body: string };
}

/** The secret the stand-in expects unless told otherwise (32+ chars, like production secrets). */
export const DEFAULT_TEST_SECRET = "stand-in-secret-0123456789abcdef0123456789";
/** The API key the stand-in expects unless told otherwise. */
export const DEFAULT_TEST_KEY = "devkey";

/** One HTTP request seen by the stand-in (for assertions about who called what). */
export interface SeenRequest {
  path: string;
  status: number;
}

type WorkerCase = NonNullable<WorkerMessage["message"]["case"]>;
type WorkerValue<C extends WorkerCase> = Extract<WorkerMessage["message"], { case: C }>["value"];

/** A running stand-in server. Create with {@link WorkerServerStandIn.start}; always `close()`. */
export class WorkerServerStandIn {
  readonly #opts:
    & Required<Omit<WorkerServerStandInOptions, "refuseWorkers">>
    & Pick<WorkerServerStandInOptions, "refuseWorkers">;
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #connections: WorkerConnection[] = [];
  #pendingConnections = new Waitable<WorkerConnection>();
  #closing?: Promise<void>;
  /** Every HTTP request seen, in order. */
  readonly requests: SeenRequest[] = [];

  private constructor(opts: WorkerServerStandInOptions) {
    this.#opts = {
      apiKey: opts.apiKey ?? DEFAULT_TEST_KEY,
      apiSecret: opts.apiSecret ?? DEFAULT_TEST_SECRET,
      refuseWorkers: opts.refuseWorkers,
    };
  }

  /** Starts listening on 127.0.0.1 with an ephemeral port. */
  static start(opts: WorkerServerStandInOptions = {}): Promise<WorkerServerStandIn> {
    const standIn = new WorkerServerStandIn(opts);
    return new Promise((resolve) => {
      standIn.#server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => resolve(standIn),
      }, (req) => standIn.#handle(req));
    });
  }

  /** Port the stand-in listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Websocket base URL to give the worker as `LIVEKIT_URL`. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** API key and secret the stand-in accepts. */
  get credentials(): { apiKey: string; apiSecret: string } {
    return { apiKey: this.#opts.apiKey, apiSecret: this.#opts.apiSecret };
  }

  /** Number of `/rtc` (room signalling) requests seen: a job process tried to join a room. */
  get rtcAttempts(): number {
    return this.requests.filter((r) => r.path.startsWith("/rtc")).length;
  }

  /** Worker websockets accepted so far, probes included. */
  get workerSockets(): number {
    return this.#connections.length;
  }

  /** Waits for the next worker websocket that sends a message (one per connection, in order). */
  nextWorker(timeoutMs = 15_000): Promise<WorkerConnection> {
    return this.#pendingConnections.take(() => true, timeoutMs, "a worker websocket connection");
  }

  /** Closes every worker socket and stops the server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#pendingConnections.close("stand-in closed");
      await Promise.all(this.#connections.map((c) => c.close(1001, "stand-in closing")));
      await this.#server.shutdown();
    })();
    return this.#closing;
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const respond = (status: number, body: BodyInit | null, headers?: HeadersInit) => {
      this.requests.push({ path, status });
      return new Response(body, { status, headers });
    };

    if (path === "/agent") {
      if (this.#opts.refuseWorkers) {
        return respond(this.#opts.refuseWorkers.status, this.#opts.refuseWorkers.body);
      }
      const auth = req.headers.get("authorization") ?? "";
      const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
      if (!token) return respond(401, "no authorization header");
      const check = await verifyToken(token, this.#opts.apiSecret);
      if (!check.ok) return respond(401, check.reason);
      if (check.claims.iss !== this.#opts.apiKey) return respond(401, "unknown API key");
      const video = check.claims.video as Record<string, unknown> | undefined;
      if (video?.agent !== true) return respond(401, "permissions denied: agent grant missing");
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return respond(400, "expected a websocket upgrade");
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      const conn = new WorkerConnection(socket, this);
      this.#connections.push(conn);
      // A worker is handed to the test on its first message (register): a socket that opens and
      // closes without a word (the worker's preflight probe) is counted but never handed out.
      socket.addEventListener("message", () => this.#pendingConnections.put(conn), { once: true });
      this.requests.push({ path, status: 101 });
      return response;
    }

    if (path.startsWith("/rtc")) {
      // livekit-server answers a bad join with 401 and the reason; rtc-node then gives up.
      return respond(401, "stand-in has no rooms: room join refused");
    }

    if (path === "/twirp/livekit.RoomService/CreateRoom" && req.method === "POST") {
      const body = await req.json().catch(() => ({})) as { name?: string };
      const room = new Room({
        sid: `RM_${crypto.randomUUID().slice(0, 12)}`,
        name: body.name ?? "stand-in-room",
        creationTime: BigInt(Math.floor(Date.now() / 1000)),
      });
      return respond(200, room.toJsonString(), { "content-type": "application/json" });
    }

    return respond(404, "not found");
  }
}

/** Options for {@link WorkerConnection.offerJob}. */
export interface OfferJobOptions {
  jobId?: string;
  roomName?: string;
  agentName?: string;
  type?: JobType;
  /** Job metadata, as the dispatch sets it. */
  metadata?: string;
}

/**
 * The server side of one worker websocket. Incoming messages are buffered; `next(kind)` takes the
 * first buffered message of that kind (waiting if needed), so unrelated periodic messages
 * (`updateWorker` every 2.5 s) never get in the way of an assertion.
 */
export class WorkerConnection {
  readonly #socket: WebSocket;
  readonly #server: WorkerServerStandIn;
  readonly #inbox = new Waitable<WorkerMessage>();
  /** Every message received on this connection, in order (never consumed). */
  readonly received: WorkerMessage[] = [];
  /** Resolves with the close code and reason once the socket is closed (by either side). */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(socket: WebSocket, server: WorkerServerStandIn) {
    this.#socket = socket;
    this.#server = server;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      const msg = WorkerMessage.fromBinary(new Uint8Array(ev.data));
      this.received.push(msg);
      this.#inbox.put(msg);
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (ev) => {
        this.#inbox.close(`worker socket closed (code ${ev.code})`);
        resolve({ code: ev.code, reason: ev.reason });
      });
    });
  }

  /** Whether the socket is still open. */
  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Takes the next message of the given kind (optionally matching `where`), waiting if needed. */
  async next<C extends WorkerCase>(
    kind: C,
    opts: { timeoutMs?: number; where?: (value: WorkerValue<C>) => boolean } = {},
  ): Promise<WorkerValue<C>> {
    const where = opts.where ?? (() => true);
    const msg = await this.#inbox.take(
      (m) => m.message.case === kind && where(m.message.value as WorkerValue<C>),
      opts.timeoutMs ?? 15_000,
      `a "${kind}" worker message`,
    );
    return msg.message.value as WorkerValue<C>;
  }

  /** Sends a raw server message. */
  send(message: ServerMessage["message"]): void {
    this.#socket.send(new ServerMessage({ message }).toBinary());
  }

  /** Waits for the worker's register request and answers it, as livekit-server does. */
  async register(workerId = "AW_standin", timeoutMs?: number): Promise<RegisterWorkerRequest> {
    const req = await this.next("register", { timeoutMs });
    this.send({
      case: "register",
      value: new RegisterWorkerResponse({
        workerId,
        serverInfo: new ServerInfo({
          edition: ServerInfo_Edition.Standard,
          version: "stand-in",
          protocol: 16,
        }),
      }),
    });
    return req;
  }

  /** Offers a job (an availability request); answer with {@link awaitAvailability}. */
  offerJob(opts: OfferJobOptions = {}): Job {
    const job = new Job({
      id: opts.jobId ?? `AJ_${crypto.randomUUID().slice(0, 12)}`,
      type: opts.type ?? JobType.JT_ROOM,
      room: new Room({ sid: "RM_standin", name: opts.roomName ?? "stand-in-room" }),
      agentName: opts.agentName ?? "",
      metadata: opts.metadata ?? "",
    });
    this.send({ case: "availability", value: new AvailabilityRequest({ job }) });
    return job;
  }

  /** Waits for the worker's availability answer for `jobId`. */
  awaitAvailability(jobId: string, timeoutMs?: number): Promise<AvailabilityResponse> {
    return this.next("availability", { timeoutMs, where: (v) => v.jobId === jobId });
  }

  /**
   * Assigns `job` to the worker. The default `url` is the stand-in itself, whose `/rtc` refuses the
   * join, so the job's room connection fails fast; the token is a real room-join JWT.
   */
  async assign(job: Job, opts: { url?: string; token?: string } = {}): Promise<void> {
    const { apiKey, apiSecret } = this.#server.credentials;
    const now = Math.floor(Date.now() / 1000);
    const token = opts.token ?? await signToken({
      iss: apiKey,
      sub: `agent-${job.id}`,
      nbf: now,
      exp: now + 600,
      video: { room: job.room?.name, roomJoin: true, agent: true },
    }, apiSecret);
    this.send({
      case: "assignment",
      value: new JobAssignment({ job, url: opts.url ?? this.#server.url, token }),
    });
  }

  /** Tells the worker to end the job. */
  terminate(jobId: string): void {
    this.send({ case: "termination", value: new JobTermination({ jobId }) });
  }

  /** Waits for an `updateWorker` status message matching `where`. */
  awaitStatus(
    where: (s: UpdateWorkerStatus) => boolean,
    timeoutMs?: number,
  ): Promise<UpdateWorkerStatus> {
    return this.next("updateWorker", { timeoutMs, where });
  }

  /** Waits for a `simulateJob` request (sent by `connect --room`). */
  awaitSimulateJob(timeoutMs?: number): Promise<SimulateJobRequest> {
    return this.next("simulateJob", { timeoutMs });
  }

  /** Closes the socket and waits until it is closed. Idempotent. */
  async close(code = 1000, reason = ""): Promise<void> {
    if (
      this.#socket.readyState === WebSocket.CONNECTING ||
      this.#socket.readyState === WebSocket.OPEN
    ) {
      this.#socket.close(code, reason);
    }
    await this.closed;
  }
}

/**
 * A buffer of items with bounded, predicate-based waits. Every wait has a timeout that rejects
 * with what was being waited for, so a test fails with a reason instead of hanging.
 */
class Waitable<T> {
  #items: T[] = [];
  #waiters: {
    match: (item: T) => boolean;
    resolve: (item: T) => void;
    reject: (e: Error) => void;
  }[] = [];
  #closedReason?: string;

  put(item: T): void {
    const i = this.#waiters.findIndex((w) => w.match(item));
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      w!.resolve(item);
    } else {
      this.#items.push(item);
    }
  }

  take(match: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const i = this.#items.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#items.splice(i, 1)[0]!);
    if (this.#closedReason) {
      return Promise.reject(new Error(`never got ${what}: ${this.#closedReason}`));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  close(reason: string): void {
    this.#closedReason ??= reason;
    for (const w of this.#waiters.splice(0)) w.reject(new Error(`stopped waiting: ${reason}`));
  }
}
