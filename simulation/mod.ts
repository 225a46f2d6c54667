/**
 * Loopback stand-in of the LiveKit Inference gateway (`/v1`): the LLM (OpenAI chat-completions
 * SSE), STT and TTS websockets that `inference.LLM`, `inference.STT` and `inference.TTS` from
 * `@livekit/agents` 1.9.0 speak. Point them at {@link Gateway.url} via `baseURL` or
 * `LIVEKIT_INFERENCE_URL`.
 *
 * Used by tests (scripted LLM brain, deterministic audio, injectable faults, an ordered event log)
 * and by `console --offline`, where it simulates a pleasant, account-free conversation.
 *
 * Routes (all under `/v1`): `GET /models`, `POST /chat/completions`, websocket `/stt`, websocket
 * `/tts`, websocket `/eot` (the cloud turn detector, simulated in `eot.ts`). `/bargein` (barge-in,
 * only for word-aligned STT models) answers 404 at once, which the plugin treats as a
 * non-retryable refusal. Anything else is 404.
 *
 * @module
 */

import {
  type ChatMessage,
  type LlmBrain,
  type LlmReply,
  type LlmRequest,
  offlineBrain,
  type ToolDefinition,
} from "./brain.ts";
import { type EotEvent, type EotFault, type EotOptions, serveEot } from "./eot.ts";
import { verifyBearer } from "./jwt.ts";
import {
  Phrasebook,
  SpeechDetector,
  type SpeechDetectorEvent,
  type SpeechDetectorOptions,
  synthesizeVoice,
  ttsDurationMs,
} from "./voice.ts";

export {
  type ChatMessage,
  lastTurnMessage,
  type LlmBrain,
  type LlmReply,
  type LlmRequest,
  type LlmToolCall,
  messageText,
  offersTool,
  OFFLINE_GOODBYE_TEXT,
  offlineBrain,
  soundsLikeGoodbye,
  type ToolDefinition,
} from "./brain.ts";
export {
  DEFAULT_EOT_LATENCY_MS,
  DEFAULT_EOT_PROBABILITY,
  DEFAULT_EOT_THRESHOLD,
  type EotEvent,
  type EotFault,
  type EotOptions,
  offlineTurnDetection,
} from "./eot.ts";
export { signTestToken } from "./jwt.ts";
export {
  blockPitch,
  MAX_PHRASES,
  PHRASE_PITCH_BASE,
  PHRASE_PITCH_STEP,
  Phrasebook,
  phrasePitches,
  phraseVoice,
  SpeechDetector,
  type SpeechDetectorEvent,
  type SpeechDetectorOptions,
  synthesizeVoice,
  TTS_MIN_MS,
  TTS_MS_PER_CHAR,
  ttsDurationMs,
  ttsSampleCount,
} from "./voice.ts";

/**
 * LLM faults, applied to each `/chat/completions` request while set:
 * - `"error"`: HTTP 500 with an OpenAI-style JSON error body (the plugin raises
 *   `APIStatusError` statusCode 500, retryable);
 * - `"stall_mid_stream"`: 200, the first half of the reply's SSE events, then nothing, with the
 *   response left open until the client gives up or the gateway closes (the OpenAI SDK's
 *   `timeout` only covers the response headers, so the plugin waits forever);
 * - `"drop_mid_stream"`: 200, the first half of the events, then the response body is aborted,
 *   which tears down the HTTP connection without the final chunk (client sees a body read error,
 *   `APIConnectionError`).
 */
export type LlmFault = "error" | "stall_mid_stream" | "drop_mid_stream";

/**
 * TTS faults, checked at each `session.create` / `input_transcript`, so setting one mid-session
 * hits the next sentence even on a pooled socket:
 * - `"never_answer"`: the socket stays open but gets no `session.created`, audio or `done`
 *   (the plugin fails with its recv idle timeout, `connOptions.timeoutMs`);
 * - `"error"`: an `error` message `{type:"error", message, session_id}` instead of audio
 *   (plugin: `APIError` "LiveKit TTS returned error: ...");
 * - `"drop_mid_audio"`: the first half of the sentence's audio, then the socket is closed with
 *   code 1011 (plugin: `APIStatusError` "Gateway connection closed unexpectedly").
 */
export type TtsFault = "never_answer" | "error" | "drop_mid_audio";

/**
 * STT faults:
 * - `"refuse"`: the websocket upgrade is answered with HTTP 503 (plugin: `APIStatusError`
 *   statusCode 503, retryable); checked per connection attempt;
 * - `"drop"`: the socket is closed (code 1011) {@link GatewayFaults.sttDropAfterMs} after the
 *   fault is noticed, i.e. after `session.create` or the next `input_audio` once it is set
 *   (plugin: `APIStatusError` "LiveKit STT connection closed unexpectedly", retryable while
 *   input is still open).
 */
export type SttFault = "refuse" | "drop";

/** Faults to inject. The object is live: tests may change it at any time (`gw.faults.llm = ...`). */
export interface GatewayFaults {
  /** See {@link LlmFault}. */
  llm?: LlmFault;
  /** See {@link TtsFault}. */
  tts?: TtsFault;
  /** See {@link SttFault}. */
  stt?: SttFault;
  /** See {@link EotFault}. */
  eot?: EotFault;
  /** When true, a fault clears its own field right after it fires once (so a retry succeeds). */
  once?: boolean;
  /** Delay for the STT `"drop"` fault, in ms. Default 500. */
  sttDropAfterMs?: number;
}

/** Fixed synthetic latencies; 0 by default. Logged on the events they delay. */
export interface GatewayLatency {
  /** Delay between the LLM response headers and the first SSE chunk. */
  llmFirstTokenMs?: number;
  /** Delay before the first `output_audio` of each synthesis (per `session.flush` cycle). */
  ttsFirstAudioMs?: number;
}

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
   * Phrases the STT recognizes (see {@link Phrasebook}): an utterance said with
   * {@link phraseVoice} at the phrase's pitch ({@link phrasePitches}) is transcribed as that
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

/** Default rotation of {@link GatewayOptions.sttDefaultTranscripts}. */
export const DEFAULT_STT_TRANSCRIPTS: readonly string[] = [
  "Hello there!",
  "What can you do?",
  "Okay, thanks. Goodbye!",
];

/** Fields every {@link GatewayEvent} carries. */
interface EventBase {
  /** `performance.now()` when the gateway recorded it. */
  t: number;
}

/** Ordered record of what crossed the gateway. */
export type GatewayEvent =
  & EventBase
  & (
    | { kind: "models_list" }
    | {
      kind: "llm_request";
      id: string;
      model: string;
      messages: ChatMessage[];
      tools: string[];
      /** Synthetic first-token latency applied to this request. */
      firstTokenLatencyMs: number;
    }
    | { kind: "llm_text"; id: string; text: string }
    | { kind: "llm_tool_call"; id: string; callId: string; name: string; arguments: string }
    | { kind: "llm_done"; id: string; finishReason: string }
    | { kind: "tts_session"; sessionId: string; model: string; voice?: string; sampleRate: number }
    | { kind: "tts_transcript"; sessionId: string; text: string }
    | {
      kind: "tts_audio";
      sessionId: string;
      /** Transcripts of this synthesis (everything between two `session.flush`), in order. */
      texts: string[];
      bytes: number;
      durationMs: number;
      /** Synthetic first-audio latency applied. */
      firstAudioLatencyMs: number;
    }
    | { kind: "tts_closed"; sessionId: string }
    | {
      kind: "stt_session";
      sessionId: string;
      model: string;
      sampleRate: number;
      language?: string;
    }
    | { kind: "stt_speech_start"; sessionId: string; startS: number }
    | { kind: "stt_final"; sessionId: string; text: string; startS: number; durationS: number }
    | { kind: "stt_finalize"; sessionId: string }
    | { kind: "stt_closed"; sessionId: string; audioMs: number }
    | EotEvent
    | { kind: "fault"; target: "llm" | "tts" | "stt" | "eot"; fault: string; detail?: string }
    | { kind: "auth_rejected"; path: string; reason: string }
    | { kind: "not_found"; method: string; path: string }
    | { kind: "error"; where: string; message: string }
  );

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

// deno-lint-ignore no-explicit-any
type Json = any;

const encoder = new TextEncoder();

function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(bin);
}

function base64ToInt16(b64: string): Int16Array {
  const bin = atob(b64);
  const n = bin.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    out[i] = v > 0x7fff ? v - 0x10000 : v;
  }
  return out;
}

function int16ToLeBytes(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(2 * i, pcm[i], true);
  return out;
}

/** Resolves after `ms`, or at once (false) when `signal` aborts; never leaves a timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function splitWords(text: string): string[] {
  // Keep the spaces attached so the chunks concatenate back to the exact text.
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function splitArguments(args: string): string[] {
  if (args.length <= 4) return [args];
  const a = Math.floor(args.length / 3);
  const b = Math.floor((2 * args.length) / 3);
  return [args.slice(0, a), args.slice(a, b), args.slice(b)];
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
  #sseStreams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #waiters = new Set<{ pred: (e: GatewayEvent) => boolean; resolve: (e: GatewayEvent) => void }>();
  #closing?: Promise<void>;
  #sttQueue: string[];
  #sttDefaults: readonly string[];
  #sttDefaultIndex = 0;
  #phrasebooks = new Map<number, Phrasebook>();
  #ids = 0;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
    this.faults = opts.faults ?? {};
    this.latency = {
      llmFirstTokenMs: opts.latency?.llmFirstTokenMs ?? 0,
      ttsFirstAudioMs: opts.latency?.ttsFirstAudioMs ?? 0,
    };
    this.#brain = opts.llm ?? offlineBrain();
    this.#sttQueue = [...(opts.sttTranscripts ?? [])];
    this.#sttDefaults = opts.sttDefaultTranscripts ?? DEFAULT_STT_TRANSCRIPTS;
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
    this.#sttQueue.push(text);
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
    for (const c of this.#sseStreams) {
      try {
        c.error(new Error("stand-in gateway closed"));
      } catch { /* already closed */ }
    }
    this.#sseStreams.clear();
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

  #emit(e: DistributiveOmit<GatewayEvent, "t">): void {
    const ev = { ...e, t: performance.now() } as GatewayEvent;
    this.log.push(ev);
    for (const w of [...this.#waiters]) {
      if (w.pred(ev)) w.resolve(ev);
    }
  }

  #fault<T extends "llm" | "tts" | "stt" | "eot">(target: T): GatewayFaults[T] {
    return this.faults[target];
  }

  #fired(target: "llm" | "tts" | "stt" | "eot", fault: string, detail?: string): void {
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
        return await this.#chat(req);
      case "/stt":
        return this.#stt(req, url);
      case "/eot":
        return this.#eot(req);
      default:
        return this.#tts(req, url);
    }
  }

  // ---------------------------------------------------------------- LLM

  async #chat(req: Request): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      return jsonResponse(400, {
        error: { message: "body is not JSON", type: "invalid_request_error" },
      });
    }
    const id = `chatcmpl-standin-${++this.#ids}`;
    const request: LlmRequest = {
      model: String(body.model ?? ""),
      messages: Array.isArray(body.messages) ? body.messages as ChatMessage[] : [],
      tools: Array.isArray(body.tools) ? body.tools as ToolDefinition[] : [],
      body,
    };
    this.#emit({
      kind: "llm_request",
      id,
      model: request.model,
      messages: request.messages,
      tools: request.tools.map((t) => t.function?.name ?? "?"),
      firstTokenLatencyMs: this.latency.llmFirstTokenMs,
    });
    const fault = this.#fault("llm");
    if (fault === "error") {
      this.#fired("llm", fault);
      return jsonResponse(500, {
        error: { message: "stand-in: injected LLM error", type: "server_error", code: "injected" },
      });
    }
    let reply: LlmReply;
    // A brain may wait on a test; the gateway closing must still end this request.
    const lifetime = this.#lifetime.signal;
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error("gateway closed"));
      if (lifetime.aborted) onAbort();
      lifetime.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      reply = await Promise.race([Promise.resolve(this.#brain(request)), aborted]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#emit({ kind: "error", where: "llm brain", message });
      return jsonResponse(500, {
        error: { message: `stand-in brain failed: ${message}`, type: "server_error" },
      });
    } finally {
      lifetime.removeEventListener("abort", onAbort);
    }
    const events = this.#sseEvents(id, request, reply);
    const cut = fault ? Math.max(1, Math.floor(events.length / 2)) : events.length;
    const streamAbort = new AbortController();
    const onLifetimeAbort = () => streamAbort.abort();
    this.#lifetime.signal.addEventListener("abort", onLifetimeAbort, { once: true });
    const signal = streamAbort.signal;
    let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
    const done = () => {
      this.#lifetime.signal.removeEventListener("abort", onLifetimeAbort);
      if (controllerRef) this.#sseStreams.delete(controllerRef);
    };
    const pump = async (c: ReadableStreamDefaultController<Uint8Array>) => {
      if (this.latency.llmFirstTokenMs > 0 && !await sleep(this.latency.llmFirstTokenMs, signal)) {
        return;
      }
      for (let i = 0; i < events.length; i++) {
        if (signal.aborted) return;
        if (i === cut && fault === "stall_mid_stream") {
          this.#fired("llm", fault, `after ${i} of ${events.length} events`);
          return; // leave the response open: close() errors it
        }
        if (i === cut && fault === "drop_mid_stream") {
          this.#fired("llm", fault, `after ${i} of ${events.length} events`);
          // Let the events already queued reach the client first, so it sees a mid-reply drop.
          if (!await sleep(50, signal)) return;
          c.error(new Error("stand-in: injected LLM drop"));
          done();
          return;
        }
        c.enqueue(encoder.encode(events[i].data));
        const sent = events[i].sent;
        if (sent) this.#emit(sent);
      }
      c.close();
      done();
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controllerRef = c;
        this.#sseStreams.add(c);
        pump(c).catch((err) => {
          this.#emit({ kind: "error", where: "llm stream", message: String(err) });
        });
      },
      cancel: () => {
        // The client went away (abort/interruption): stop producing.
        streamAbort.abort();
        done();
      },
    });
    return new Response(stream, {
      status: 200,
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-request-id": id,
      },
    });
  }

  /**
   * The SSE events of one reply, in OpenAI's order. Each may carry the log event to record once
   * it is actually sent, so a stalled or dropped reply does not log what never left.
   */
  #sseEvents(id: string, request: LlmRequest, reply: LlmReply): SseItem[] {
    const created = Math.floor(Date.now() / 1000);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: request.model,
          system_fingerprint: null,
          choices,
          ...extra,
        })
      }\n\n`;
    const delta = (d: Record<string, unknown>, finish: string | null = null) =>
      chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
    const out: SseItem[] = [{ data: delta({ role: "assistant", content: "" }) }];
    const textChunks = reply.text === undefined
      ? []
      : typeof reply.text === "string"
      ? splitWords(reply.text)
      : reply.text;
    const text = textChunks.join("");
    for (const t of textChunks) out.push({ data: delta({ content: t }) });
    if (text) out[out.length - 1].sent = { kind: "llm_text", id, text };
    const calls = reply.toolCalls ?? [];
    calls.forEach((call, index) => {
      const callId = call.id ?? `call_standin_${++this.#ids}`;
      const args = call.arguments ?? "{}";
      out.push({
        data: delta({
          tool_calls: [{
            index,
            id: callId,
            type: "function",
            function: { name: call.name, arguments: "" },
          }],
        }),
      });
      for (const piece of splitArguments(args)) {
        out.push({ data: delta({ tool_calls: [{ index, function: { arguments: piece } }] }) });
      }
      out[out.length - 1].sent = {
        kind: "llm_tool_call",
        id,
        callId,
        name: call.name,
        arguments: args,
      };
    });
    const finishReason = calls.length > 0 ? "tool_calls" : "stop";
    out.push({ data: delta({}, finishReason) });
    const promptChars = request.messages.reduce((n, m) => n + JSON.stringify(m).length, 0);
    const promptTokens = Math.ceil(promptChars / 4);
    const completionTokens = textChunks.length + calls.length * 8;
    out.push({
      data: chunk([], {
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      }),
    });
    out.push({ data: "data: [DONE]\n\n", sent: { kind: "llm_done", id, finishReason } });
    return out;
  }

  // ---------------------------------------------------------------- websockets

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

  #send(socket: WebSocket, msg: Record<string, unknown>): boolean {
    if (socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(msg));
    return true;
  }

  // ---------------------------------------------------------------- STT

  #nextTranscript(lengthS: number, pitchHz: number, sampleRate: number): string {
    const phrases = this.#opts.sttPhrasebook;
    if (phrases && phrases.length > 0) {
      let book = this.#phrasebooks.get(sampleRate);
      if (!book) {
        book = new Phrasebook(phrases, sampleRate, this.#opts.speech);
        this.#phrasebooks.set(sampleRate, book);
      }
      const phrase = book.match(lengthS, pitchHz);
      if (phrase !== undefined) return phrase;
    }
    const queued = this.#sttQueue.shift();
    if (queued !== undefined) return queued;
    if (this.#sttDefaults.length === 0) return "";
    const t = this.#sttDefaults[this.#sttDefaultIndex % this.#sttDefaults.length];
    this.#sttDefaultIndex++;
    return t;
  }

  #stt(req: Request, url: URL): Response {
    const model = url.searchParams.get("model") ?? "auto";
    if (this.#fault("stt") === "refuse") {
      this.#fired("stt", "refuse", model);
      return jsonResponse(503, { error: { message: "stand-in: injected STT refusal" } });
    }
    const up = this.#upgrade(req);
    if (up instanceof Response) return up;
    const { socket } = up;
    const sessionId = `stt_standin_${++this.#ids}`;
    let detector: SpeechDetector | undefined;
    let sampleRate = 16000;
    let language: string | undefined;
    let audioSamples = 0;
    let dropTimer: ReturnType<typeof setTimeout> | undefined;
    // Speechmatics RT models are the only ones for which the plugin sends session.finalize per
    // local-VAD end of speech while input continues; for all others it means "input ended".
    const finalizeEndsInput =
      !(model.startsWith("speechmatics/") && model !== "speechmatics/linden-1");

    const armDrop = () => {
      if (dropTimer !== undefined || this.#fault("stt") !== "drop") return;
      if (this.#lifetime.signal.aborted) return;
      const after = this.faults.sttDropAfterMs ?? 500;
      dropTimer = setTimeout(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        this.#fired("stt", "drop", `${sessionId} after ${after} ms`);
        socket.close(1011, "stand-in: injected STT drop");
      }, after);
    };
    const emitFinal = (ev: Extract<SpeechDetectorEvent, { type: "end" }>) => {
      const durationS = Math.max(0, ev.endS - ev.startS);
      const text = this.#nextTranscript(durationS, ev.pitchHz, sampleRate);
      const words = text.split(/\s+/).filter(Boolean);
      const per = words.length > 0 ? durationS / words.length : 0;
      this.#emit({ kind: "stt_final", sessionId, text, startS: ev.startS, durationS });
      this.#send(socket, {
        type: "final_transcript",
        session_id: sessionId,
        transcript: text,
        language: language ?? "en",
        start: ev.startS,
        duration: durationS,
        confidence: 0.98,
        words: words.map((word, i) => ({
          word,
          start: ev.startS + i * per,
          end: ev.startS + (i + 1) * per,
          confidence: 0.98,
        })),
      });
    };

    // A drop timer must not outlive the gateway even if this socket's close event comes late.
    const clearDrop = () => {
      if (dropTimer !== undefined) clearTimeout(dropTimer);
    };
    this.#lifetime.signal.addEventListener("abort", clearDrop, { once: true });
    socket.addEventListener("close", () => {
      clearDrop();
      this.#lifetime.signal.removeEventListener("abort", clearDrop);
      this.#emit({
        kind: "stt_closed",
        sessionId,
        audioMs: Math.round(audioSamples / sampleRate * 1000),
      });
    });
    socket.addEventListener("message", (ev) => {
      let msg: Json;
      try {
        msg = JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data));
      } catch {
        this.#emit({ kind: "error", where: "stt", message: "non-JSON message" });
        return;
      }
      switch (msg?.type) {
        case "session.create": {
          sampleRate = Number(msg.settings?.sample_rate) || 16000;
          language = typeof msg.settings?.language === "string" ? msg.settings.language : undefined;
          detector = new SpeechDetector(sampleRate, this.#opts.speech);
          this.#emit({ kind: "stt_session", sessionId, model, sampleRate, language });
          this.#send(socket, { type: "session.created", session_id: sessionId });
          armDrop();
          break;
        }
        case "input_audio": {
          armDrop();
          if (typeof msg.audio !== "string") return;
          detector ??= new SpeechDetector(sampleRate, this.#opts.speech);
          const pcm = base64ToInt16(msg.audio);
          audioSamples += pcm.length;
          for (const e of detector.push(pcm)) {
            if (e.type === "start") {
              this.#emit({ kind: "stt_speech_start", sessionId, startS: e.startS });
              this.#send(socket, { type: "start_of_speech", session_id: sessionId });
            } else {
              emitFinal(e);
            }
          }
          break;
        }
        case "session.finalize": {
          const e = detector?.flush();
          if (e && e.type === "end") emitFinal(e);
          this.#emit({ kind: "stt_finalize", sessionId });
          this.#send(socket, { type: "session.finalized", session_id: sessionId });
          // Tells the plugin it may stop waiting (it otherwise waits 3 s / 30 s for transcripts).
          if (finalizeEndsInput) {
            this.#send(socket, { type: "session.closed", session_id: sessionId });
          }
          break;
        }
        case "session.close":
          this.#send(socket, { type: "session.closed", session_id: sessionId });
          socket.close(1000, "session closed");
          break;
        default:
          // session.update and anything new: accepted and ignored, like a lenient gateway.
          break;
      }
    });
    return up.response;
  }

  // ---------------------------------------------------------------- turn detector

  #eot(req: Request): Response {
    const fault = this.#fault("eot");
    if (fault === "not_found" || fault === "refuse") {
      this.#fired("eot", fault);
      return jsonResponse(fault === "refuse" ? 503 : 404, {
        error: { message: `simulation: injected turn detector ${fault}` },
      });
    }
    const up = this.#upgrade(req);
    if (up instanceof Response) return up;
    serveEot(up.socket, {
      sessionId: `eot_sim_${++this.#ids}`,
      options: this.#opts.eot ?? {},
      fault: () => this.#fault("eot"),
      fired: (f, detail) => this.#fired("eot", f, detail),
      emit: (e) => this.#emit(e),
      lifetime: this.#lifetime.signal,
    });
    return up.response;
  }

  // ---------------------------------------------------------------- TTS

  #tts(req: Request, url: URL): Response {
    const model = url.searchParams.get("model") ?? "unknown";
    const up = this.#upgrade(req);
    if (up instanceof Response) return up;
    const { socket } = up;
    const sessionId = `tts_standin_${++this.#ids}`;
    const connAbort = new AbortController();
    const onLifetimeAbort = () => connAbort.abort();
    this.#lifetime.signal.addEventListener("abort", onLifetimeAbort, { once: true });
    const chunkMs = this.#opts.ttsChunkMs ?? 40;
    let sampleRate = 16000;
    // One synthesis = the input_transcripts between two session.flush messages.
    let synth = { texts: [] as string[], bytes: 0, started: false, silenced: false };
    // Serialize work so audio goes out in transcript order and `done` after all of it.
    let work: Promise<void> = Promise.resolve();
    const enqueue = (job: () => Promise<void>) => {
      work = work.then(job).catch((err) => {
        this.#emit({ kind: "error", where: "tts", message: String(err) });
      });
    };

    // `s` is the synthesis the transcript belonged to when it arrived: the job may
    // run after a flush started the next one, which must not inherit its state.
    const speak = async (text: string, s: typeof synth) => {
      if (s.silenced || connAbort.signal.aborted) return;
      const fault = this.#fault("tts");
      if (fault === "never_answer") {
        s.silenced = true;
        this.#fired("tts", fault, sessionId);
        return;
      }
      if (fault === "error") {
        s.silenced = true;
        this.#fired("tts", fault, sessionId);
        this.#send(socket, {
          type: "error",
          message: "stand-in: injected TTS error",
          session_id: sessionId,
        });
        return;
      }
      if (!s.started) {
        s.started = true;
        if (
          this.latency.ttsFirstAudioMs > 0 &&
          !await sleep(this.latency.ttsFirstAudioMs, connAbort.signal)
        ) {
          return;
        }
      }
      const bytes = int16ToLeBytes(synthesizeVoice(text, sampleRate));
      const chunkBytes = Math.max(2, Math.round(sampleRate * chunkMs / 1000) * 2);
      const dropAt = fault === "drop_mid_audio"
        ? Math.floor(bytes.length / 2 / chunkBytes) * chunkBytes
        : -1;
      for (let off = 0; off < bytes.length; off += chunkBytes) {
        if (off === dropAt) {
          this.#fired("tts", "drop_mid_audio", `${sessionId} after ${off} bytes`);
          s.silenced = true;
          socket.close(1011, "stand-in: injected TTS drop");
          return;
        }
        const piece = bytes.subarray(off, Math.min(off + chunkBytes, bytes.length));
        if (
          !this.#send(socket, {
            type: "output_audio",
            audio: bytesToBase64(piece),
            session_id: sessionId,
          })
        ) {
          return; // client went away (interruption terminates the socket)
        }
        s.bytes += piece.length;
        // Yield so closes and new messages are seen between chunks.
        if (!await sleep(0, connAbort.signal)) return;
      }
    };

    const flush = () => {
      const s = synth;
      synth = { texts: [], bytes: 0, started: false, silenced: false };
      enqueue(() => {
        if (s.silenced || connAbort.signal.aborted) return Promise.resolve();
        this.#emit({
          kind: "tts_audio",
          sessionId,
          texts: s.texts,
          bytes: s.bytes,
          durationMs: (s.bytes / 2 / sampleRate) * 1000,
          firstAudioLatencyMs: s.texts.length > 0 ? this.latency.ttsFirstAudioMs : 0,
        });
        this.#send(socket, { type: "done", session_id: sessionId });
        return Promise.resolve();
      });
    };

    socket.addEventListener("close", () => {
      connAbort.abort();
      this.#lifetime.signal.removeEventListener("abort", onLifetimeAbort);
      this.#emit({ kind: "tts_closed", sessionId });
    });
    socket.addEventListener("message", (ev) => {
      let msg: Json;
      try {
        msg = JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data));
      } catch {
        this.#emit({ kind: "error", where: "tts", message: "non-JSON message" });
        return;
      }
      switch (msg?.type) {
        case "session.create": {
          sampleRate = Number(msg.sample_rate) || 16000;
          this.#emit({
            kind: "tts_session",
            sessionId,
            model: typeof msg.model === "string" ? msg.model : model,
            voice: typeof msg.voice === "string" ? msg.voice : undefined,
            sampleRate,
          });
          if (this.#fault("tts") === "never_answer") {
            synth.silenced = true;
            this.#fired("tts", "never_answer", sessionId);
            break;
          }
          this.#send(socket, { type: "session.created", session_id: sessionId });
          break;
        }
        case "input_transcript": {
          const text = String(msg.transcript ?? "").trim();
          if (!text) break;
          synth.texts.push(text);
          this.#emit({ kind: "tts_transcript", sessionId, text });
          const current = synth;
          enqueue(() => speak(text, current));
          break;
        }
        case "session.flush":
          flush();
          break;
        case "session.close":
          this.#send(socket, { type: "session.closed", session_id: sessionId });
          socket.close(1000, "session closed");
          break;
        default:
          break;
      }
    });
    return up.response;
  }
}

/** One SSE event of a reply and what to log once it has been sent. */
interface SseItem {
  data: string;
  sent?: DistributiveOmit<GatewayEvent, "t">;
}

/** `Omit` that distributes over a union, so each event variant keeps its own fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Duration in ms of the audio for a whole synthesis (sum over its sentences). */
export function ttsSynthesisMs(texts: string[]): number {
  return texts.reduce((n, t) => n + ttsDurationMs(t), 0);
}
