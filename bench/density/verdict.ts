/**
 * Whether a level holds, and why not: every call answered and run to its end, every goodbye
 * heard in full, every call ended by the agent and every room deleted (for an agent that ends its
 * calls), and the reply p95 within {@link P95_FACTOR} of the one-call p95.
 *
 * @module
 */
import type { LevelFigures } from "./figures.ts";
import type { LevelSamples } from "./samples.ts";

/** A level's reply p95 may be at most this many times the baseline's (as the room load bench). */
export const P95_FACTOR = 1.5;

/** A level's verdict. */
export interface Verdict {
  holds: boolean;
  /** Why it does not hold, one line per reason, joined with "; ". */
  why?: string;
}

function firstLine(s: string | undefined): string {
  return (s ?? "").split("\n")[0].split("; caller events")[0].slice(0, 160);
}

/**
 * The verdict of a level. `baselineP95Ms` is the runtime's one-call p95 (NaN: none to compare
 * with, and the latency criterion is not applied). With `endsCalls` false (the recipe, which
 * never ends its calls), "ended by the agent" and "rooms deleted" are reported, not judged.
 */
export function levelVerdict(
  s: LevelSamples,
  f: LevelFigures,
  baselineP95Ms: number,
  endsCalls: boolean,
): Verdict {
  if (s.error) return { holds: false, why: firstLine(s.error) };
  const why: string[] = [];
  const n = s.n;
  if (f.answered < n) why.push(`${n - f.answered} of ${n} call(s) not answered`);
  const failed = s.calls.filter((c) => c.answered && c.error);
  if (failed.length) {
    why.push(`${failed.length} call(s) failed: ${firstLine(failed[0].error)}`);
  }
  if (f.goodbyesInFull < n) why.push(`${n - f.goodbyesInFull} goodbye(s) not heard in full`);
  if (endsCalls) {
    if (f.endedByAgent < n) why.push(`${n - f.endedByAgent} call(s) not ended by the agent`);
    if (s.roomsLeft > 0) why.push(`${s.roomsLeft} room(s) left`);
  }
  if (!Number.isFinite(f.replyP95Ms)) why.push("no reply measured");
  else if (Number.isFinite(baselineP95Ms) && f.replyP95Ms > P95_FACTOR * baselineP95Ms) {
    why.push(
      `reply p95 ${Math.round(f.replyP95Ms)} ms > ${P95_FACTOR} × ${Math.round(baselineP95Ms)} ms`,
    );
  }
  return why.length ? { holds: false, why: why.join("; ") } : { holds: true };
}

/**
 * The p95 the levels are judged against: that of the smallest level (1 call by default) when it
 * has one, else NaN.
 */
export function baselineP95(levels: { n: number; figures: LevelFigures }[]): number {
  if (levels.length === 0) return NaN;
  const first = levels.reduce((a, b) => (b.n < a.n ? b : a));
  return first.figures.replyP95Ms;
}

/** The largest level that held (0: none). */
export function largestHeld(levels: { n: number; verdict: Verdict }[]): number {
  return Math.max(0, ...levels.filter((l) => l.verdict.holds).map((l) => l.n));
}
