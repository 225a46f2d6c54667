/**
 * Where the time of one spoken turn goes, from the end of the user's speech to the agent's first
 * audio: VAD end of speech, STT final transcript, the turn decision (and what decided it), LLM
 * first token, TTS first audio, and the reply's start. Built from agents-js's own per-turn
 * metrics (`ChatMessage.metrics` of the user and assistant messages, the `eot_prediction` event),
 * which the agent has in-process and the console protocol carries to the broker, so the agent's
 * log, the console screen and the benchmark show the same parts.
 *
 * - {@link turnParts}: the pure computation; {@link describeTurn}: one line of text.
 * - {@link watchTurnParts}: logs one line per turn in the agent.
 * - `console/turn_view.ts`: the same parts from the events a console broker receives.
 *
 * @module
 */
import { type llm, voice } from "@livekit/agents";
import { log } from "./log.ts";
import { type EotDecision, guardOf } from "./turn_detection.ts";

/** What decided that the user had finished. */
export type DecidedBy =
  /** VAD endpointing (`TURN_DETECTION=vad`). */
  | "vad"
  /** STT endpointing (`TURN_DETECTION=stt`). */
  | "stt"
  /** The cloud end-of-turn model (`turn-detector-v1`). */
  | "cloud_model"
  /** The local end-of-turn model (`turn-detector-v1-mini`). */
  | "local_model"
  /** An end-of-turn model, unknown which (seen from the console protocol). */
  | "model"
  /** No model answered (unavailable, failed or timed out): endpointing after the minimum delay. */
  | "no_model"
  /** Nothing says. */
  | "unknown";

/** agents-js's per-turn metrics (seconds; `*At` are epoch seconds), as on `ChatMessage.metrics`. */
export type TurnMetrics = Pick<
  llm.MetricsReport,
  | "startedSpeakingAt"
  | "stoppedSpeakingAt"
  | "transcriptionDelay"
  | "endOfTurnDelay"
  | "llmNodeTtft"
  | "ttsNodeTtfb"
  | "e2eLatency"
>;

/** The end-of-turn model's answer for the turn, when there was one. */
export interface EotAnswer {
  probability: number;
  threshold: number;
  /** The model's own time, ms. */
  inferenceMs: number;
}

/** One turn's parts. Every `*Ms` but the two model durations is counted from `endOfSpeechAt`. */
export interface TurnParts {
  /**
   * The end of the user's speech as agents-js placed it (epoch ms; the VAD's last speech, the
   * STT's end of speech in `stt` mode). Undefined when agents-js found the VAD unreliable for the
   * turn and reported no end of speech: the times from it are then unknown too.
   */
  endOfSpeechAt?: number;
  /** VAD reported the end of speech (after its minimum silence). */
  vadEndOfSpeechMs?: number;
  /** The final transcript arrived. */
  sttFinalMs?: number;
  /** The turn was decided (committed); the reply could start from here. */
  turnDecisionMs?: number;
  /** The LLM's own time from request to first token. */
  llmFirstTokenMs?: number;
  /** The TTS's own time from first text to first audio. */
  ttsFirstAudioMs?: number;
  /** The agent started its reply (first audio frame out). */
  replyStartMs?: number;
  /** What decided the turn. */
  decidedBy: DecidedBy;
  /** The end-of-turn model's answer, when one was used. */
  eot?: EotAnswer;
}

const ms = (s: number | undefined) => s === undefined ? undefined : s * 1000;

/**
 * The parts of one turn from its user and assistant metrics. Undefined for typed input (no end of
 * speech and no VAD end of speech).
 */
export function turnParts(input: {
  user: TurnMetrics;
  assistant?: TurnMetrics;
  /** When VAD reported the end of speech (epoch ms), if known. */
  vadEndAt?: number;
  decidedBy: DecidedBy;
  eot?: EotAnswer;
}): TurnParts | undefined {
  const end = ms(input.user.stoppedSpeakingAt);
  if (end === undefined && input.vadEndAt === undefined) return undefined;
  const started = ms(input.assistant?.startedSpeakingAt);
  const from = (t: number | undefined) =>
    t !== undefined && end !== undefined ? Math.max(0, t - end) : undefined;
  const known = <T>(v: T) => end === undefined ? undefined : v;
  return {
    endOfSpeechAt: end,
    vadEndOfSpeechMs: from(input.vadEndAt),
    sttFinalMs: known(ms(input.user.transcriptionDelay)),
    turnDecisionMs: known(ms(input.user.endOfTurnDelay)),
    llmFirstTokenMs: ms(input.assistant?.llmNodeTtft),
    ttsFirstAudioMs: ms(input.assistant?.ttsNodeTtfb),
    replyStartMs: known(ms(input.assistant?.e2eLatency) ?? from(started)),
    decidedBy: input.decidedBy,
    eot: input.eot,
  };
}

const DECIDERS: Record<DecidedBy, string> = {
  vad: "VAD endpointing",
  stt: "STT endpointing",
  cloud_model: "the cloud end-of-turn model",
  local_model: "the local end-of-turn model",
  model: "the end-of-turn model",
  no_model: "endpointing (no end-of-turn model answered)",
  unknown: "unknown",
};

/**
 * What decided a turn, in a few words, with the model's answer when there was one: `the
 * end-of-turn model (0.95 ≥ 0.50)`.
 */
export function decidedByText(p: Pick<TurnParts, "decidedBy" | "eot">): string {
  const eot = p.eot
    ? ` (${p.eot.probability.toFixed(2)} ${p.eot.probability >= p.eot.threshold ? "≥" : "<"} ${
      p.eot.threshold.toFixed(2)
    })`
    : "";
  return `${DECIDERS[p.decidedBy]}${eot}`;
}

const sec = (v: number | undefined) => v === undefined ? "?" : `${(v / 1000).toFixed(2)} s`;

/**
 * One line: `reply 0.81 s after the end of speech · turn decided at 0.52 s by the cloud
 * end-of-turn model (0.95 ≥ 0.50) · STT final 0.34 s · LLM first token 0.20 s · TTS first audio
 * 0.10 s`.
 */
export function describeTurn(p: TurnParts): string {
  return [
    `reply ${sec(p.replyStartMs)} after the end of speech`,
    `turn decided at ${sec(p.turnDecisionMs)} by ${decidedByText(p)}`,
    `STT final ${sec(p.sttFinalMs)}`,
    `LLM first token ${sec(p.llmFirstTokenMs)}`,
    `TTS first audio ${sec(p.ttsFirstAudioMs)}`,
  ].join(" · ");
}

/** The parts as log fields (whole milliseconds, snake_case). */
export function turnFields(p: TurnParts): Record<string, unknown> {
  const r = (v: number | undefined) => v === undefined ? undefined : Math.round(v);
  return {
    decided_by: p.decidedBy,
    end_of_speech_at: r(p.endOfSpeechAt),
    reply_ms: r(p.replyStartMs),
    turn_decision_ms: r(p.turnDecisionMs),
    vad_end_of_speech_ms: r(p.vadEndOfSpeechMs),
    stt_final_ms: r(p.sttFinalMs),
    llm_first_token_ms: r(p.llmFirstTokenMs),
    tts_first_audio_ms: r(p.ttsFirstAudioMs),
    eot_probability: p.eot ? Math.round(p.eot.probability * 1000) / 1000 : undefined,
    eot_threshold: p.eot?.threshold,
    eot_inference_ms: r(p.eot?.inferenceMs),
  };
}

/**
 * Logs one `turn` line per spoken turn that got a reply (`describeTurn`, with the parts as
 * fields). Returns the function that stops watching.
 */
export function watchTurnParts(
  session: voice.AgentSession,
  onTurn: (parts: TurnParts) => void = (p) => log().info(turnFields(p), `turn: ${describeTurn(p)}`),
): () => void {
  const E = voice.AgentSessionEventTypes;
  let vadEndAt: number | undefined;
  let eot: EotAnswer | undefined;
  let user: TurnMetrics | undefined;
  let guardDecision: EotDecision | undefined;
  let guardSeen = 0;

  const decidedBy = (): DecidedBy => {
    const detection = session.turnDetection;
    if (detection === "vad" || detection === "stt") return detection;
    if (typeof detection !== "object") return "unknown";
    // No prediction (timed out), the guard's fallback, or agents-js's own instant defaults.
    if (!eot || eot.inferenceMs === 0 || guardDecision?.by === "fallback") return "no_model";
    if (guardDecision?.by === "model") return "local_model";
    return (detection as { model?: string }).model === "turn-detector-v1"
      ? "cloud_model"
      : "local_model";
  };
  const onUserState = (ev: voice.UserStateChangedEvent) => {
    if (ev.oldState === "speaking" && ev.newState !== "speaking") vadEndAt = ev.createdAt;
  };
  const onEot = (ev: voice.EotPredictionEvent) => {
    eot = {
      probability: ev.probability,
      threshold: ev.threshold,
      inferenceMs: ev.inferenceDurationMs,
    };
    const guard = guardOf(session.turnDetection);
    const decisions = guard?.decisions ?? [];
    // The guard's latest answer since the last turn is the one this prediction came from.
    guardDecision = decisions.length > guardSeen ? decisions[decisions.length - 1] : undefined;
    guardSeen = decisions.length;
  };
  const onItem = (ev: voice.ConversationItemAddedEvent) => {
    const item = ev.item;
    if (item.type !== "message") return;
    if (item.role === "user") {
      user = item.metrics;
      return;
    }
    if (item.role !== "assistant" || !user) return;
    const parts = turnParts({
      user,
      assistant: item.metrics,
      vadEndAt,
      decidedBy: decidedBy(),
      eot,
    });
    user = undefined;
    eot = undefined;
    guardDecision = undefined;
    vadEndAt = undefined;
    if (parts) onTurn(parts);
  };
  session.on(E.UserStateChanged, onUserState);
  session.on(E.EotPrediction, onEot);
  session.on(E.ConversationItemAdded, onItem);
  return () => {
    session.off(E.UserStateChanged, onUserState);
    session.off(E.EotPrediction, onEot);
    session.off(E.ConversationItemAdded, onItem);
  };
}
