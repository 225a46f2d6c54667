/**
 * The voice-path figure: end of the user's speech to the first agent audio the user hears, split
 * into its parts, and the framework's share of it.
 *
 * Every part is in ms after the end of the user's speech as its sender knows it (the broker's
 * microphone or the caller's last frame): VAD end of speech, STT final transcript (received by the
 * agent), the turn decision (the user's turn committed), LLM first token and TTS first audio (sent
 * by the simulation), playout start (first agent audio at the broker or the caller).
 *
 * The simulation's latencies are fixed, so the shortest possible reply is known: with preemptive
 * generation agents-js starts the reply when the final transcript comes, and plays it once the
 * turn is decided, so
 *
 *   ideal = max(decision floor, STT + LLM first token + TTS first audio)
 *
 * (in `stt` mode, decision floor + LLM + TTS: see {@link idealReplyMs}), where the decision floor is what the configured endpointing allows (per mode, below), and the
 * framework share is `total - ideal`: everything agents-js, the plugins, the runtime and the
 * transport add on top of the configured delays and the models' own latencies.
 *
 * @module
 */
import { median } from "./stats.ts";

/** What the benchmark measures, by turn detection. */
export type VoiceMode =
  /** `TURN_DETECTION=vad`. */
  | "vad"
  /** `TURN_DETECTION=stt`. */
  | "stt"
  /** `default`, the (simulated) cloud end-of-turn model answering "finished". */
  | "default"
  /** `default` with no model able to answer (the guard's fallback: endpointing). */
  | "no_model";

/** The modes, in table order. */
export const VOICE_MODES: readonly VoiceMode[] = ["vad", "stt", "default", "no_model"];

/** Fixed latencies of the simulation in this benchmark (subtracted). */
export const VOICE_LATENCY = {
  /** The simulated STT ends an utterance after this much silence (its own endpointing). */
  sttEndSilenceMs: 600,
  llmFirstTokenMs: 200,
  ttsFirstAudioMs: 100,
  /** The simulated end-of-turn model's time per prediction. */
  eotMs: 20,
} as const;

/**
 * agents-js 1.9.0's configured delays (its defaults, which this agent keeps): Silero's minimum
 * silence, the endpointing delays (`defaultEndpointingOptions`, and `streamingEndpointingOptions`
 * with the end-of-turn model), and the silence after which the model is asked.
 */
export const ENDPOINTING = {
  vadMinSilenceMs: 550,
  minDelayMs: 500,
  modelMinDelayMs: 300,
  modelMaxDelayMs: 2500,
  modelAskAfterMs: 200,
} as const;

/** The earliest the turn can be decided, per mode, after the end of speech. */
export function decisionFloorMs(mode: VoiceMode, modelSaidNo = false): number {
  const stt = VOICE_LATENCY.sttEndSilenceMs;
  switch (mode) {
    case "vad":
      // VAD's end of speech, and agents-js needs the transcript before it commits.
      return Math.max(ENDPOINTING.vadMinSilenceMs, ENDPOINTING.minDelayMs, stt);
    case "stt":
      // The delay counts from the STT's end of speech.
      return stt + ENDPOINTING.minDelayMs;
    case "default":
      return Math.max(
        stt,
        modelSaidNo ? ENDPOINTING.modelMaxDelayMs : ENDPOINTING.modelMinDelayMs,
        ENDPOINTING.modelAskAfterMs + VOICE_LATENCY.eotMs,
      );
    case "no_model":
      return Math.max(stt, ENDPOINTING.modelMinDelayMs);
  }
}

/**
 * The shortest reply the configuration and the models allow: see the module doc. In `stt` mode
 * agents-js 1.9.0 starts no preemptive reply from a final transcript (it does so only with
 * VAD-based turn detection, `audio_recognition.ts`), so there the reply starts at the decision.
 */
export function idealReplyMs(mode: VoiceMode, modelSaidNo = false): number {
  const models = VOICE_LATENCY.llmFirstTokenMs + VOICE_LATENCY.ttsFirstAudioMs;
  const floor = decisionFloorMs(mode, modelSaidNo);
  if (mode === "stt") return floor + models;
  return Math.max(floor, VOICE_LATENCY.sttEndSilenceMs + models);
}

/** Where the user was. */
export type VoiceWhere = "console" | "room";

/** One measured turn. */
export interface VoiceTurn {
  runtime: "deno" | "node";
  where: VoiceWhere;
  mode: VoiceMode;
  /** What the agent says decided it (`core/turn_parts.ts`), when it said. */
  decidedBy?: string;
  eotProbability?: number;
  vadEndMs?: number;
  sttFinalMs?: number;
  turnDecisionMs?: number;
  llmFirstTokenMs?: number;
  ttsFirstAudioMs?: number;
  /** First agent audio heard: the total. */
  playoutMs: number;
  idealMs: number;
  /** `playoutMs - idealMs`. */
  frameworkMs: number;
  /** Of the share, the way in: STT final received minus the STT's own endpointing. */
  inputMs?: number;
  /** Of the share, the way out: first audio heard minus TTS first audio sent. */
  outputMs?: number;
  /** Load average (1 min) when the turn was measured. */
  load: number;
}

/** Fills in the ideal and the framework share. */
export function withShare(
  t: Omit<VoiceTurn, "idealMs" | "frameworkMs">,
  modelSaidNo = false,
): VoiceTurn {
  const idealMs = idealReplyMs(t.mode, modelSaidNo);
  return {
    ...t,
    idealMs,
    frameworkMs: t.playoutMs - idealMs,
    inputMs: t.sttFinalMs !== undefined ? t.sttFinalMs - VOICE_LATENCY.sttEndSilenceMs : undefined,
    outputMs: t.ttsFirstAudioMs !== undefined ? t.playoutMs - t.ttsFirstAudioMs : undefined,
  };
}

/** Median of the defined values, or NaN. */
function med(xs: (number | undefined)[]): number {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? median(v) : NaN;
}

const fmt = (v: number) => Number.isFinite(v) ? String(Math.round(v)) : "–";

/** The goal of the issue: framework share at most this. */
export const FRAMEWORK_GOAL_MS = 150;

/**
 * The voice path as Markdown, in two tables that each fit the docs' width: the parts (medians,
 * ms after the end of the user's speech), then the framework share against the ideal and the
 * goal (judged on Deno's median).
 */
export function voiceTable(turns: VoiceTurn[]): string {
  const parts = [
    "| Where | Turn detection | Runtime | Turns | VAD end | STT final | Turn decision | LLM first | TTS first | Heard |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const shares = [
    "| Where | Turn detection | Runtime | Ideal | Framework share | In / out | Goal (≤ 150 ms, Deno ≤ Node) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const where of ["console", "room"] as const) {
    for (const mode of VOICE_MODES) {
      const cell = (rt: "deno" | "node") =>
        turns.filter((t) => t.where === where && t.mode === mode && t.runtime === rt);
      const d = cell("deno");
      const n = cell("node");
      if (d.length === 0 && n.length === 0) continue;
      const share = {
        deno: med(d.map((t) => t.frameworkMs)),
        node: med(n.map((t) => t.frameworkMs)),
      };
      for (const [rt, ts] of [["deno", d], ["node", n]] as const) {
        if (ts.length === 0) continue;
        const m = (f: (t: VoiceTurn) => number | undefined) => fmt(med(ts.map(f)));
        const goal = rt === "deno"
          ? `${share.deno <= FRAMEWORK_GOAL_MS ? "met" : "NOT met"} (${fmt(share.deno)} ms); ${
            share.deno <= share.node ? "Deno ≤ Node" : "Deno > Node"
          }`
          : "";
        parts.push(
          `| ${where} | ${mode} | ${rt} | ${ts.length} | ${m((t) => t.vadEndMs)} | ${
            m((t) => t.sttFinalMs)
          } | ${m((t) => t.turnDecisionMs)} | ${m((t) => t.llmFirstTokenMs)} | ${
            m((t) => t.ttsFirstAudioMs)
          } | ${m((t) => t.playoutMs)} |`,
        );
        shares.push(
          `| ${where} | ${mode} | ${rt} | ${fmt(ts[0].idealMs)} | ${m((t) => t.frameworkMs)} (${
            fmt(Math.min(...ts.map((t) => t.frameworkMs)))
          }–${fmt(Math.max(...ts.map((t) => t.frameworkMs)))}) | ${m((t) => t.inputMs)} / ${
            m((t) => t.outputMs)
          } | ${goal} |`,
        );
      }
    }
  }
  return `${parts.join("\n")}\n\n${shares.join("\n")}`;
}

/**
 * The agent's `turn:` line, from a JSON line (`start`) or a pretty one (`dev`, console: the
 * message, then `    key: value` lines).
 */
export function parseTurnLines(lines: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.includes("turn: reply")) continue;
    if (line.startsWith("{")) {
      try {
        out.push(JSON.parse(line));
      } catch { /* cut */ }
      continue;
    }
    const fields: Record<string, unknown> = {};
    for (let j = i + 1; j < lines.length && /^\s{4}\w+: /.test(lines[j]); j++) {
      const m = /^\s+(\w+): (.*)$/.exec(lines[j])!;
      try {
        fields[m[1]] = JSON.parse(m[2]);
      } catch {
        fields[m[1]] = m[2];
      }
    }
    out.push(fields);
  }
  return out;
}
