/**
 * Per-turn latency, as LiveKit's consoles show it (`lk agent console` and
 * Python's console): the LLM's time to first token (`llm_ttft`), the TTS's
 * time to first audio (`tts_ttfb`) and end of the user's speech to the
 * agent's first audio (`e2e`), each marked when it passes 1 s; and, for the
 * summary, their medians. A spoken turn also shows where its wait went, the
 * same parts as the agent's `turn:` log line (`core/turn_parts.ts`): the VAD's
 * end of speech (`vad`), the final transcript (`stt`) and the turn decision
 * (`turn`, with what decided it), each after the end of speech.
 *
 * The figures come from the agent itself: agents-js puts a metrics report on
 * every assistant message it sends over the console protocol. A typed turn
 * has no end of speech, so its `e2e` is measured here instead, from the
 * moment the line was sent to the first audio of the reply; or, when nothing
 * plays the audio (text mode without a sound card), to the moment the reply's
 * text is shown, which is what the user saw.
 *
 * @module
 */
import type { AgentSession as pb } from "@livekit/protocol";
import { decidedByText, type TurnParts } from "./turn_view.ts";

/** A figure above this many seconds is marked slow. */
export const SLOW_S = 1;

/** The latency figures of one agent reply, in seconds; absent when not measured. */
export interface TurnLatency {
  /** Spoken turns: end of speech to the VAD's end of speech. */
  vadS?: number;
  /** Spoken turns: end of speech to the final transcript. */
  sttS?: number;
  /** Spoken turns: end of speech to the turn decision. */
  turnS?: number;
  /** Spoken turns: what decided the turn (`the end-of-turn model (0.95 ≥ 0.50)`). */
  decidedBy?: string;
  /** LLM time to first token. */
  llmTtftS?: number;
  /** TTS time to first audio. */
  ttsTtfbS?: number;
  /** End of the user's speech (or of the typed line) to the agent's first audio. */
  e2eS?: number;
}

const FIGURES = [
  ["vadS", "vad"],
  ["sttS", "stt"],
  ["turnS", "turn"],
  ["llmTtftS", "llm_ttft"],
  ["ttsTtfbS", "tts_ttfb"],
  ["e2eS", "e2e"],
] as const;

/** Reads the figures agents-js attached to an assistant message. */
export function latencyFromMetrics(m: pb.MetricsReport | undefined): TurnLatency {
  const ok = (v: number | undefined) => v !== undefined && Number.isFinite(v) && v >= 0;
  return {
    llmTtftS: ok(m?.llmNodeTtft) ? m!.llmNodeTtft : undefined,
    ttsTtfbS: ok(m?.ttsNodeTtfb) ? m!.ttsNodeTtfb : undefined,
    e2eS: ok(m?.e2eLatency) ? m!.e2eLatency : undefined,
  };
}

/** `430ms`, like LiveKit's consoles (one decimal below 10 ms). */
export function formatMs(seconds: number): string {
  const ms = seconds * 1000;
  return ms >= 10 ? `${Math.round(ms)}ms` : `${ms.toFixed(1)}ms`;
}

/**
 * `llm_ttft 430ms · tts_ttfb 120ms · e2e 1520ms (slow)`, or undefined when
 * nothing was measured. `slow` decorates a figure above {@link SLOW_S} (the
 * UI colours it red on a terminal); the words `(slow)` are always there, so
 * the mark survives pipes and NO_COLOR.
 */
export function formatLatency(
  l: TurnLatency,
  slow: (s: string) => string = (s) => s,
): string | undefined {
  const parts: string[] = [];
  for (const [key, label] of FIGURES) {
    const v = l[key];
    if (v === undefined) continue;
    const text = `${label} ${formatMs(v)}`;
    const by = key === "turnS" && l.decidedBy ? ` by ${l.decidedBy}` : "";
    parts.push((v > SLOW_S ? slow(`${text} (slow)`) : text) + by);
  }
  return parts.length > 0 ? parts.join(" · ") : undefined;
}

/** Median of the values (mean of the middle two for an even count). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The session's latency record: one entry per agent reply, with the typed
 * turn's `e2e` measured from the console's side when the agent has none.
 */
export class LatencyLog {
  readonly #turns: TurnLatency[] = [];
  #typedAt?: number;
  #typedE2eS?: number;
  #typedSentAt?: number;

  /** A typed line was sent (`run_input`) at `now` (ms). */
  typedTurnSent(now = performance.now()): void {
    this.#typedAt = now;
    this.#typedSentAt = now;
    this.#typedE2eS = undefined;
  }

  /** Agent audio arrived at `now` (ms): the first after a typed line ends its `e2e`. */
  audioArrived(now = performance.now()): void {
    if (this.#typedAt === undefined) return;
    this.#typedE2eS = (now - this.#typedAt) / 1000;
    this.#typedAt = undefined;
  }

  /**
   * An agent reply was added with these metrics, and the parts of the spoken turn it answers
   * (`console/turn_view.ts`); returns its figures (recorded for the summary). `shownAtOnce`: the
   * reply's text is what the user gets now (nothing plays its audio), so a typed turn's `e2e`
   * ends at `now`.
   */
  reply(
    metrics: pb.MetricsReport | undefined,
    parts?: TurnParts,
    shownAtOnce = false,
    now = performance.now(),
  ): TurnLatency {
    const l = latencyFromMetrics(metrics);
    if (parts) {
      const s = (ms: number | undefined) => ms === undefined ? undefined : ms / 1000;
      l.vadS = s(parts.vadEndOfSpeechMs);
      l.sttS = s(parts.sttFinalMs);
      l.turnS = s(parts.turnDecisionMs);
      if (l.turnS !== undefined) l.decidedBy = decidedByText(parts);
      l.e2eS ??= s(parts.replyStartMs);
    }
    if (shownAtOnce && this.#typedSentAt !== undefined) {
      l.e2eS = (now - this.#typedSentAt) / 1000;
    } else if (l.e2eS === undefined && this.#typedE2eS !== undefined) l.e2eS = this.#typedE2eS;
    this.#typedE2eS = undefined;
    this.#typedSentAt = undefined;
    if (FIGURES.some(([key]) => l[key] !== undefined)) this.#turns.push(l);
    return l;
  }

  /** Number of replies with at least one figure. */
  get turns(): number {
    return this.#turns.length;
  }

  /** The median of each figure over the replies that have it. */
  medians(): TurnLatency {
    const pick = (key: (typeof FIGURES)[number][0]) =>
      median(this.#turns.flatMap((t) => t[key] === undefined ? [] : [t[key]!]));
    return {
      vadS: pick("vadS"),
      sttS: pick("sttS"),
      turnS: pick("turnS"),
      llmTtftS: pick("llmTtftS"),
      ttsTtfbS: pick("ttsTtfbS"),
      e2eS: pick("e2eS"),
    };
  }

  /** `median of 3 replies: llm_ttft ... · e2e ...`, or undefined when nothing was measured. */
  summary(slow?: (s: string) => string): string | undefined {
    const text = formatLatency(this.medians(), slow);
    if (!text) return undefined;
    const n = this.#turns.length;
    return `median of ${n} repl${n === 1 ? "y" : "ies"}: ${text}`;
  }
}
