/**
 * A level's figures from its samples: the worker tree's cores per call while the calls talk and
 * over the whole call, RSS and PSS per call, reply latency percentiles, goodbyes, the callers'
 * cores, and what a 2-core worker would hold by its own cost.
 *
 * @module
 */
import { median } from "../stats.ts";
import type { LevelSamples } from "./samples.ts";

/** Cores of the worker the capacity is computed for. */
export const WORKER_CORES = 2;
/** Share of the worker's cores and memory its calls may use (the rest is headroom). */
export const HEADROOM = 0.75;

/** What a level's samples come to. */
export interface LevelFigures {
  /** Tree CPU over the talking stretch / its length / calls. */
  coresPerCallTalk: number;
  /** Tree CPU over the whole level / calls / the median call's length. */
  coresPerCallWhole: number;
  /** Tree CPU over the whole level / calls, s. */
  cpuSecondsPerCall: number;
  /** (Peak tree RSS − idle) / calls, MiB. */
  rssPerCallMiB: number;
  /** (Peak tree PSS − idle) / calls, MiB. */
  pssPerCallMiB: number;
  /** The idle tree's PSS, MiB. */
  idlePssMiB: number;
  replyP50Ms: number;
  replyP95Ms: number;
  /** Replies measured (every turn of every call). */
  replies: number;
  answered: number;
  byeSaid: number;
  goodbyesInFull: number;
  /** Goodbye end → caller disconnected: median and max over the calls that have it, ms. */
  goodbyeToGoneMs: { median: number; max: number; n: number };
  /** Calls the server ended by deleting the room (`ROOM_DELETED`). */
  endedByAgent: number;
  /** Calls that ran to their end without an error. */
  completed: number;
  /** The callers' processes, cores, while the calls talked. */
  callersCores: number;
  /** Calls a {@link WORKER_CORES}-core worker holds by this level's cost per call. */
  capacity: { byCpu: number; byMemory: number };
}

/** Nearest-rank percentile of the finite values of `xs` (NaN when none). */
export function percentile(xs: readonly number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * Calls a worker of {@link WORKER_CORES} cores holds at this cost: CPU, the cores it may use
 * over the cores per call; memory, the memory it may use less what the idle tree holds, over
 * the memory per call. Both floored; NaN when the cost is not a positive number.
 */
export function capacity(
  coresPerCall: number,
  pssPerCallMiB: number,
  idlePssMiB: number,
  memoryBudgetMiB: number,
): { byCpu: number; byMemory: number } {
  const fit = (room: number, cost: number) =>
    Number.isFinite(cost) && cost > 0 && Number.isFinite(room)
      // The epsilon keeps 1.5 / 0.1 at 15 (it is 14.999... in floating point).
      ? Math.max(0, Math.floor(room / cost + 1e-9))
      : NaN;
  return {
    byCpu: fit(WORKER_CORES * HEADROOM, coresPerCall),
    byMemory: fit(memoryBudgetMiB * HEADROOM - idlePssMiB, pssPerCallMiB),
  };
}

/** The figures of one level. */
export function levelFigures(s: LevelSamples, memoryBudgetMiB: number): LevelFigures {
  const n = s.n;
  const replies = s.calls.flatMap((c) => c.replyLatencyMs);
  const durationS = median(s.calls.map((c) => c.durationMs ?? NaN)) / 1000;
  const gone = s.calls.map((c) => c.goodbyeEndToGoneMs).filter((x): x is number =>
    x !== undefined && Number.isFinite(x)
  );
  const coresPerCallTalk = s.talk.seconds > 0 ? s.talk.treeCpuS / s.talk.seconds / n : NaN;
  const pssPerCallMiB = (s.peak.pssKiB - s.idle.pssKiB) / 1024 / n;
  const idlePssMiB = s.idle.pssKiB / 1024;
  return {
    coresPerCallTalk,
    coresPerCallWhole: s.whole.treeCpuS / n / durationS,
    cpuSecondsPerCall: s.whole.treeCpuS / n,
    rssPerCallMiB: (s.peak.rssKiB - s.idle.rssKiB) / 1024 / n,
    pssPerCallMiB,
    idlePssMiB,
    replyP50Ms: percentile(replies, 50),
    replyP95Ms: percentile(replies, 95),
    replies: replies.length,
    answered: s.calls.filter((c) => c.answered).length,
    byeSaid: s.calls.filter((c) => c.byeSaid).length,
    goodbyesInFull: s.calls.filter((c) => c.goodbyeInFull).length,
    goodbyeToGoneMs: {
      median: median(gone),
      max: gone.length ? Math.max(...gone) : NaN,
      n: gone.length,
    },
    endedByAgent: s.calls.filter((c) => c.disconnectReason === "ROOM_DELETED").length,
    completed: s.calls.filter((c) => c.byeSaid && !c.error).length,
    callersCores: s.talk.seconds > 0 ? s.talk.callersCpuS / s.talk.seconds : NaN,
    capacity: capacity(coresPerCallTalk, pssPerCallMiB, idlePssMiB, memoryBudgetMiB),
  };
}
