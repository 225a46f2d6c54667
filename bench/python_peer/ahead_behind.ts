/**
 * Where this project is ahead of LiveKit's Python recipe and where it is behind, in words: from
 * the performance rows (each with why the two differ) and from the behaviour records. Pure
 * functions.
 *
 * @module
 */
import type { PerfRow } from "./perf_table.ts";
import type { AgentRuntime } from "./room_agent.ts";
import type { ScenarioRecord } from "./room_records.ts";

/** Where the recipe's median is this far from this project's (either way), the two are "level". */
export const LEVEL_BAND = 0.1;

/**
 * Where this project is ahead of the recipe and where behind, in words, from the performance
 * rows (lower is better for every figure; within {@link LEVEL_BAND} counts as level) and the
 * behaviour records.
 */
export function aheadBehind(rows: PerfRow[], records: ScenarioRecord[]): {
  ahead: string[];
  behind: string[];
  level: string[];
} {
  const out = { ahead: [] as string[], behind: [] as string[], level: [] as string[] };
  for (const r of rows) {
    if (!r.why) continue;
    const ratio = r.pythonRatio.median;
    const d = r.deno.median;
    const p = r.python.median;
    const fmt = (x: number) => `${x.toFixed(r.unit === "MiB" ? 0 : 0)} ${r.unit}`.trim();
    if (r.words?.python && !r.words.deno && Number.isFinite(d)) {
      out.ahead.push(`${r.figure}: ${fmt(d)} against ${r.words.python} — ${r.why}`);
      continue;
    }
    if (!Number.isFinite(ratio)) continue;
    const line = `${r.figure}: ${fmt(d)} against ${fmt(p)} (recipe/project ${
      ratio.toFixed(2)
    }) — ${r.why}`;
    if (ratio > 1 + LEVEL_BAND) out.ahead.push(line);
    else if (ratio < 1 - LEVEL_BAND) out.behind.push(line);
    else out.level.push(line);
  }
  const of = (rt: AgentRuntime, scenario: string) =>
    records.filter((r) => r.runtime === rt && r.scenario === scenario && !r.error);
  const bye = (rt: AgentRuntime) => of(rt, "bye") as Extract<ScenarioRecord, { scenario: "bye" }>[];
  const closes = (rt: AgentRuntime) =>
    bye(rt).filter((r) => r.sessionClosedAt !== undefined).length;
  if (bye("deno").length && bye("python").length) {
    const d = closes("deno"), p = closes("python");
    if (d === bye("deno").length && p === 0) {
      out.ahead.push(
        `the exit flow completes: the session closes, the room is deleted and the caller is ` +
          `disconnected after the goodbye (${d}/${d} runs); the recipe's never closes (0/${
            bye("python").length
          }) — its end_session awaits session.drain(), which waits for the reply task that is ` +
          `itself awaiting end_session; this project's end_session asks for a draining shutdown and ` +
          `returns, and deletes the room when the session has closed`,
      );
    }
  }
  const hang = (rt: AgentRuntime) =>
    of(rt, "hangup_first") as Extract<ScenarioRecord, { scenario: "hangup_first" }>[];
  if (
    hang("deno").length && hang("python").length &&
    hang("deno").every((r) => !r.goodbyeAfterHangup) &&
    hang("python").every((r) => r.goodbyeAfterHangup)
  ) {
    out.ahead.push(
      'a caller who hangs up first costs no goodbye: the recipe\'s on_exit synthesizes "Goodbye!" ' +
        "for nobody (paid TTS); this project skips it when the participant is gone",
    );
  }
  const term = (rt: AgentRuntime) =>
    of(rt, "sigterm") as Extract<ScenarioRecord, { scenario: "sigterm" }>[];
  if (
    term("deno").length && term("python").length &&
    term("deno").every((r) => r.exit && !r.exit.forced) &&
    term("python").every((r) => r.exit?.forced)
  ) {
    out.ahead.push(
      "SIGTERM during a call: both let the call finish, but the recipe's worker then waits for a " +
        "job that never ends (livekit-agents' drain timeout is 1 h by default) and has to be killed; this " +
        "project's exits once the call has ended",
    );
  }
  const fails = (rt: AgentRuntime) =>
    of(rt, "llm_fails") as Extract<ScenarioRecord, { scenario: "llm_fails" }>[];
  if (
    fails("deno").length && fails("python").length &&
    fails("deno").every((r) => r.saidAfterFailure.length > 0) &&
    fails("python").every((r) => r.saidAfterFailure.length === 0)
  ) {
    out.ahead.push(
      "an LLM failure on the bye: the recipe's caller hears nothing (livekit-agents logs the error " +
        "and waits for the next turn); this project apologizes and asks again, and ends the call " +
        "after repeated failures (MAX_FAILED_TURNS)",
    );
  }
  return out;
}
