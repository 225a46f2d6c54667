/**
 * The simulated LiveKit Inference gateway's server: one `Deno.serve` on 127.0.0.1 that
 * authenticates each request (when keys are set), routes `/v1/...` to the model endpoints
 * (`llm.ts`, `stt.ts`, `tts.ts`, `eot.ts`), keeps the ordered event log, and closes every
 * socket, stream and timer it started.
 *
 * @module
 */
import { type LlmBrain, offlineBrain } from "./brain.ts";
import { type EotOptions, serveEotRoute } from "./eot.ts";
import { type Endpoint, jsonResponse, sleep } from "./endpoint.ts";
import type {
  FaultTarget,
  GatewayEvent,
  GatewayFaults,
  GatewayLatency,
  NewGatewayEvent,
} from "./events.ts";
import { verifyBearer } from "./jwt.ts";
import { serveChat } from "./llm.ts";
import { serveStt, TranscriptSource } from "./stt.ts";
import { serveTts } from "./tts.ts";
import type { SpeechDetectorOptions } from "./voice.ts";

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** TCP port on 127.0.0.1; 0/undefined picks a free one. */
  port?: number;
  /**
   * With both set, every request and websocket upgrade must carry
   * `Authorization: Bearer <HS256 JWT>` signed with `apiSecret`, `iss=apiKey`, `sub="agent"`,
   * `inference.perform=true`, unexpired; otherwise HTTP 401.
   */
  apiKey?: string;
  /** See {@link GatewayOptions.apiKey}. */
  apiSecret?: string;
  /** Decides each `/chat/completions` reply; default {@link offlineBrain}. */
  llm?: LlmBrain;
  /** Fixed synthetic latencies (default 0). */
  latency?: GatewayLatency;
  /** Initial faults; the same object becomes {@link Gateway.faults}. */
  faults?: GatewayFaults;
  /** Transcripts the STT hands out, one per detected utterance, before falling back. */
  sttTranscripts?: string[];
  /**
   * Used in rotation once `sttTranscripts` is exhausted. The default is a short conversation
   * that ends with a goodbye, so an offline newcomer who just talks sees the whole exit flow.
   */
  sttDefaultTranscripts?: string[];
  /**
   * Phrases the STT recognizes (see `Phrasebook` in `voice.ts`): an utterance said with
   * `phraseVoice` at the phrase's pitch (`phrasePitches`) is transcribed as that
   * phrase, before the queue and the defaults are consulted. This maps what many concurrent
   * callers say to transcripts without a shared queue.
   */
  sttPhrasebook?: readonly string[];
  /** Energy detector tuning for the STT (threshold, min speech, end silence). */
  speech?: SpeechDetectorOptions;
  /** Size of each TTS `output_audio` chunk in ms. Default 40. */
  ttsChunkMs?: number;
  /** The simulated end-of-turn model at `/eot` (probability, latency, threshold). */
  eot?: EotOptions;
}

/** A running stand-in gateway. */
export interface Gateway {
  /** `http://127.0.0.1:PORT/v1`: what `LIVEKIT_INFERENCE_URL` / `baseURL` take. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Live fault switches (see {@link GatewayFaults}). */
  readonly faults: GatewayFaults;
  /** Resolved synthetic latencies, so benchmarks can subtract them. */
  readonly latency: Readonly<Required<GatewayLatency>>;
  /** Ordered event record (timestamps from `performance.now()`). */
  readonly log: GatewayEvent[];
  /** Every TTS `input_transcript`, trimmed, in arrival order (what the agent asked TTS to say). */
  synthesized(): string[];
  /** Appends a transcript for the next utterance the STT detects. */
  queueTranscript(text: string): void;
  /**
   * Resolves with the first logged event (already logged or future) matching `pred`; rejects
   * after `timeoutMs`, or when the gateway closes, with a message listing the recent events.
   */
  waitFor(pred: (e: GatewayEvent) => boolean, timeoutMs: number): Promise<GatewayEvent>;
  /** Closes the listener and every open response/socket, clears every timer. Idempotent. */
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 and resolves once it is listening. */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const gw = new GatewayImpl(options);
  await gw.start();
  return gw;
}

class GatewayImpl implements Gateway {
  readonly faults: GatewayFaults;
  readonly latency: Readonly<Required<GatewayLatency>>;
  readonly log: GatewayEvent[] = [];
  #opts: GatewayOptions;
  #brain: LlmBrain;
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #port = 0;
  #lifetime = new AbortController();
  #sockets = new Map<WebSocket, Promise<void>>();
  #waiters = new Set<{ pred: (e: GatewayEvent) => boolean; resolve: (e: GatewayEvent) => void }>();
  #closing?: Promise<void>;
  #transcripts: TranscriptSource;
  #ids = 0;
  #endpoint: Endpoint;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
    this.faults = opts.faults ?? {};
    this.latency = {
      llmFirstTokenMs: opts.latency?.llmFirstTokenMs ?? 0,
      ttsFirstAudioMs: opts.latency?.ttsFirstAudioMs ?? 0,
    };
    this.#brain = opts.llm ?? offlineBrain();
    this.#transcripts = new TranscriptSource({
      phrases: opts.sttPhrasebook,
      queued: opts.sttTranscripts,
      defaults: opts.sttDefaultTranscripts,
      speech: opts.speech,
    });
    this.#endpoint = {
      faults: this.faults,
      latency: this.latency,
      lifetime: this.#lifetime.signal,
      nextId: () => ++this.#ids,
      emit: (e) => this.#emit(e),
      fired: (target, fault, detail) => this.#fired(target, fault, detail),
      upgrade: (req) => this.#upgrade(req),
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    if ((this.#opts.apiKey === undefined) !== (this.#opts.apiSecret === undefined)) {
      throw new Error("stand-in gateway: apiKey and apiSecret must be set together");
    }
    const listening = Promise.withResolvers<void>();
    this.#server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: this.#opts.port ?? 0,
        onListen: () => listening.resolve(),
        onError: (err) => {
          this.#emit({ kind: "error", where: "http", message: String(err) });
          return jsonResponse(500, { error: { message: String(err), type: "server_error" } });
        },
      },
      (req) => this.#handle(req),
    );
    await listening.promise;
    this.#port = this.#server.addr.port;
  }

  synthesized(): string[] {
    return this.log.flatMap((e) => (e.kind === "tts_transcript" ? [e.text] : []));
  }

  queueTranscript(text: string): void {
    this.#transcripts.queue(text);
  }

  waitFor(pred: (e: GatewayEvent) => boolean, timeoutMs: number): Promise<GatewayEvent> {
    const hit = this.log.find(pred);
    if (hit) return Promise.resolve(hit);
    if (this.#closing) {
      return Promise.reject(new Error("stand-in gateway: waitFor on a closed gateway"));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (e: GatewayEvent) => {
          cleanup();
          resolve(e);
        },
      };
      const fail = (why: string) => {
        cleanup();
        const recent = this.log.slice(-8).map((e) => e.kind).join(", ") || "none";
        reject(new Error(`stand-in gateway: waitFor ${why}; last events: ${recent}`));
      };
      const onClose = () => fail("aborted because the gateway closed");
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        this.#lifetime.signal.removeEventListener("abort", onClose);
      };
      this.#lifetime.signal.addEventListener("abort", onClose, { once: true });
      this.#waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    // Abort first: stops pumps and synthetic delays, and rejects pending waitFor calls.
    this.#lifetime.abort();
    for (const ws of this.#sockets.keys()) {
      try {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
          ws.close(1001, "gateway closing");
        }
      } catch { /* closing already */ }
    }
    // The close handshake needs the peer; bound the wait so a dead peer cannot hang close().
    const closed = Promise.all(this.#sockets.values());
    const ac = new AbortController();
    await Promise.race([closed, sleep(2000, ac.signal)]);
    ac.abort();
    if (this.#server) {
      await this.#server.shutdown();
      await this.#server.finished;
    }
  }

  #emit(e: NewGatewayEvent): void {
    const ev = { ...e, t: performance.now() } as GatewayEvent;
    this.log.push(ev);
    for (const w of [...this.#waiters]) {
      if (w.pred(ev)) w.resolve(ev);
    }
  }

  #fired(target: FaultTarget, fault: string, detail?: string): void {
    if (this.faults.once) delete this.faults[target];
    this.#emit({ kind: "fault", target, fault, detail });
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const route = path.startsWith("/v1/") ? path.slice(3) : undefined;
    if (
      route === undefined ||
      !["/models", "/chat/completions", "/stt", "/tts", "/eot"].includes(route)
    ) {
      // /bargein lands here: 404 makes the plugin fall back at once.
      this.#emit({ kind: "not_found", method: req.method, path });
      return jsonResponse(404, { error: { message: `no route ${path}`, type: "not_found" } });
    }
    if (this.#opts.apiKey !== undefined && this.#opts.apiSecret !== undefined) {
      const reason = await verifyBearer(
        req.headers.get("authorization"),
        this.#opts.apiKey,
        this.#opts.apiSecret,
      );
      if (reason) {
        this.#emit({ kind: "auth_rejected", path, reason });
        return jsonResponse(401, {
          error: { message: `unauthorized: ${reason}`, type: "unauthorized" },
        });
      }
    }
    switch (route) {
      case "/models":
        this.#emit({ kind: "models_list" });
        return jsonResponse(200, {
          object: "list",
          data: ["openai/gpt-4.1-mini", "openai/gpt-4.1", "openai/gpt-4o-mini"].map((id) => ({
            id,
            object: "model",
            created: 0,
            owned_by: "livekit-stand-in",
          })),
        });
      case "/chat/completions":
        if (req.method !== "POST") return jsonResponse(405, { error: { message: "POST only" } });
        return await serveChat(req, this.#endpoint, this.#brain);
      case "/stt":
        return serveStt(req, url, this.#endpoint, this.#transcripts, this.#opts.speech);
      case "/eot":
        return serveEotRoute(req, this.#endpoint, this.#opts.eot ?? {});
      default:
        return serveTts(req, url, this.#endpoint, this.#opts.ttsChunkMs);
    }
  }

  #upgrade(req: Request): { socket: WebSocket; response: Response } | Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonResponse(426, { error: { message: "websocket upgrade required" } });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    const closed = Promise.withResolvers<void>();
    socket.addEventListener("close", () => {
      this.#sockets.delete(socket);
      closed.resolve();
    });
    this.#sockets.set(socket, closed.promise);
    return { socket, response };
  }
}
