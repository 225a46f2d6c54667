/**
 * What the simulated gateway records and what a test may inject: the ordered event log every
 * endpoint appends to, and the live fault and latency switches.
 *
 * @module
 */
import type { ChatMessage } from "./brain.ts";
import type { EotEvent, EotFault } from "./eot.ts";

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

/** `Omit` that distributes over a union, so each event variant keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as an endpoint reports it; the gateway stamps the time. */
export type NewGatewayEvent = DistributiveOmit<GatewayEvent, "t">;

/** The models whose faults a test may switch. */
export type FaultTarget = "llm" | "tts" | "stt" | "eot";
