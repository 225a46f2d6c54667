/**
 * Per-turn latency parts from what a console broker receives: the agent's user and assistant
 * messages (`conversation_item_added`, whose `metrics` are agents-js's per-turn metrics), its
 * `eot_prediction` and `user_state_changed` events. Feed every agent event to a
 * {@link TurnPartsTracker}; it returns a turn's {@link TurnParts} once the reply to it has been
 * added (after its playout), for the console to show, e.g. with `describeTurn`:
 *
 * `reply 0.81 s after the end of speech · turn decided at 0.52 s by the end-of-turn model (0.95 ≥
 * 0.50) · STT final 0.34 s · LLM first token 0.20 s · TTS first audio 0.10 s`
 *
 * The console protocol does not say which model answered: a model's answer shows as `model`, and
 * a turn no model answered as `no_model`: no prediction at all (it timed out), or one that took
 * 0 ms, which no model does (the agent's fallback, see `core/turn_detection.ts`, and agents-js's
 * own defaults answer at once).
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import type { TurnDetection } from "../core/config.ts";
import {
  type DecidedBy,
  decidedByText,
  describeTurn,
  type EotAnswer,
  type TurnMetrics,
  type TurnParts,
  turnParts,
} from "../core/turn_parts.ts";

export { decidedByText, describeTurn, type TurnParts };

type Ts = { seconds: bigint; nanos: number } | undefined;

const epochSeconds = (t: Ts) => t ? Number(t.seconds) + t.nanos / 1e9 : undefined;
const durationMs = (d: Ts) => d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;

/** agents-js's metrics (seconds) from their protobuf form. */
export function metricsFromProto(m: pb.MetricsReport | undefined): TurnMetrics {
  return {
    startedSpeakingAt: epochSeconds(m?.startedSpeakingAt),
    stoppedSpeakingAt: epochSeconds(m?.stoppedSpeakingAt),
    transcriptionDelay: m?.transcriptionDelay,
    endOfTurnDelay: m?.endOfTurnDelay,
    llmNodeTtft: m?.llmNodeTtft,
    ttsNodeTtfb: m?.ttsNodeTtfb,
    e2eLatency: m?.e2eLatency,
  };
}

/**
 * The agent's turn detection from its `TURN_DETECTION` value (unset or unknown: `default`; the
 * agent itself refuses an unknown value at start).
 */
export function turnDetectionOf(value: string | undefined): TurnDetection {
  const v = value?.trim();
  return v === "vad" || v === "stt" ? v : "default";
}

/** Collects one turn at a time from the agent's events. */
export class TurnPartsTracker {
  readonly #mode: TurnDetection;
  #user?: TurnMetrics;
  #eot?: EotAnswer;
  #vadEndAt?: number;

  /** `mode`: the agent's `TURN_DETECTION` (the console passes its own environment's). */
  constructor(mode: TurnDetection = "default") {
    this.#mode = mode;
  }

  /** Feeds one event; returns the parts of the turn it completes, if it completes one. */
  push(ev: pb.AgentSessionEvent): TurnParts | undefined {
    const e = ev.event;
    switch (e.case) {
      case "userStateChanged":
        if (
          e.value.oldState === pb.UserState.US_SPEAKING &&
          e.value.newState !== pb.UserState.US_SPEAKING
        ) {
          this.#vadEndAt = ev.createdAt
            ? Number(ev.createdAt.seconds) * 1000 + ev.createdAt.nanos / 1e6
            : Date.now();
        }
        return undefined;
      case "eotPrediction":
        this.#eot = {
          probability: e.value.probability,
          threshold: e.value.threshold,
          inferenceMs: durationMs(e.value.inferenceDuration),
        };
        return undefined;
      case "conversationItemAdded": {
        const item = e.value.item?.item;
        if (item?.case !== "message") return undefined;
        const msg = item.value;
        if (msg.role === pb.ChatRole.USER) {
          this.#user = metricsFromProto(msg.metrics);
          return undefined;
        }
        if (msg.role !== pb.ChatRole.ASSISTANT || !this.#user) return undefined;
        const parts = turnParts({
          user: this.#user,
          assistant: metricsFromProto(msg.metrics),
          vadEndAt: this.#vadEndAt,
          decidedBy: this.#decidedBy(),
          eot: this.#eot,
        });
        this.#user = undefined;
        this.#eot = undefined;
        this.#vadEndAt = undefined;
        return parts;
      }
      default:
        return undefined;
    }
  }

  #decidedBy(): DecidedBy {
    if (this.#mode !== "default") return this.#mode;
    const eot = this.#eot;
    return !eot || eot.inferenceMs === 0 ? "no_model" : "model";
  }
}
