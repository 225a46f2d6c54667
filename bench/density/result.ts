/**
 * A density run's result as `bench/results/density_latest.json` keeps it: the raw samples of
 * every level, and per runtime the figures, verdicts, the largest N held and the capacity a
 * 2-core worker would hold by its own cost. {@link buildResult} computes everything but the raw
 * samples, so a saved result is rendered again from them alone.
 *
 * @module
 */
import type { MachineInfo } from "../proc.ts";
import { type LevelFigures, levelFigures } from "./figures.ts";
import { type RuntimeName, SPECS } from "./plan.ts";
import type { LevelSamples } from "./samples.ts";
import { baselineP95, largestHeld, levelVerdict, type Verdict } from "./verdict.ts";

/** The result file's name in `bench/results/` (the latest run; history in git). */
export const DENSITY_LATEST = "density_latest.json";

/** One level with what it comes to. */
export interface LevelResult extends LevelSamples {
  figures: LevelFigures;
  verdict: Verdict;
}

/** One runtime's levels. */
export interface RuntimeResult {
  runtime: RuntimeName;
  label: string;
  what: string;
  endsCalls: boolean;
  /** The one-call reply p95 the levels are judged against, ms. */
  baselineP95Ms: number;
  /** The largest level that held (0: none). */
  maxHeldN: number;
  levels: LevelResult[];
}

/** What the run inside the sandbox hands back. */
export interface DensityRaw {
  levels: LevelSamples[];
  /** What the run says about itself (a level not run for the time budget...). */
  notes: string[];
  /** The caller processes' callers each. */
  callersPerProcess: number;
  talkSeconds: number;
  silenceMs: number;
  /** Between one call's join and the next one's, ms. */
  staggerMs: number;
}

/** The whole result. */
export interface DensityResult {
  kind: "density";
  date: string;
  command: string;
  machine: MachineInfo;
  versions: Record<string, string>;
  modelLatency: { llmFirstTokenMs: number; ttsFirstAudioMs: number };
  /** Load average at the run's start and end. */
  loadavg: { start: number[]; end: number[] };
  /** The memory budget of the capacity by memory, MiB. */
  memoryBudgetMiB: number;
  talkSeconds: number;
  callersPerProcess: number;
  silenceMs: number;
  /** Between one call's join and the next one's, ms (0: all at once). */
  staggerMs: number;
  runtimes: RuntimeResult[];
  /** What the run says about itself. */
  notes: string[];
  /** Wall time of the whole run, s. */
  wallSeconds: number;
}

/** Figures, verdicts and the largest N held of each runtime, in the order given. */
export function judge(
  raw: LevelSamples[],
  runtimes: RuntimeName[],
  memoryBudgetMiB: number,
): RuntimeResult[] {
  return runtimes.map((runtime) => {
    const spec = SPECS[runtime];
    const mine = raw.filter((l) => l.runtime === runtime).sort((a, b) => a.n - b.n)
      .map((s) => ({ ...s, figures: levelFigures(s, memoryBudgetMiB) }));
    const baselineP95Ms = baselineP95(mine);
    const levels = mine.map((l) => ({
      ...l,
      verdict: levelVerdict(l, l.figures, baselineP95Ms, spec.endsCalls),
    }));
    return {
      runtime,
      label: spec.label,
      what: spec.what,
      endsCalls: spec.endsCalls,
      baselineP95Ms,
      maxHeldN: largestHeld(levels),
      levels,
    };
  });
}

/** The level of `r` with `n` calls, if it ran. */
export function levelOf(r: RuntimeResult, n: number): LevelResult | undefined {
  return r.levels.find((l) => l.n === n);
}
