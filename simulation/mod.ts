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
 * One module per model: `llm.ts`, `stt.ts`, `tts.ts`, `eot.ts` (with `brain.ts` deciding the
 * LLM's replies and `voice.ts` the synthetic voice); `gateway.ts` serves and routes them;
 * `events.ts` holds the event log's and the faults' types. This module only re-exports.
 *
 * @module
 */

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
export { type Endpoint } from "./endpoint.ts";
export type {
  GatewayEvent,
  GatewayFaults,
  GatewayLatency,
  LlmFault,
  SttFault,
  TtsFault,
} from "./events.ts";
export { type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { DEFAULT_STT_TRANSCRIPTS, TranscriptSource } from "./stt.ts";
export { ttsSynthesisMs } from "./tts.ts";
