/**
 * How the side-by-side comparison reads: the block printed after a run and kept in
 * `docs/comparison.md`
 * (header, the performance table from `perf_table.ts`, the behaviour table from
 * `room_verdicts.ts`, where this project is ahead or behind from `ahead_behind.ts`, and notes).
 * Pure functions over the result (`comparison_result.ts`), so a saved result renders again
 * (`--render`) without running anything.
 *
 * @module
 */
import { aheadBehind, LEVEL_BAND } from "./ahead_behind.ts";
import type { ComparisonRaw, ComparisonResult } from "./comparison_result.ts";
import { perfRows, perfTable } from "./perf_table.ts";
import { behaviourList, type BehaviourRow, behaviourRows } from "./room_verdicts.ts";

/** The printed block, also kept in the docs: header, both tables, ahead/behind, notes. */
export function renderComparison(result: ComparisonResult): string {
  const m = result.machine;
  const when = result.date.slice(0, 16).replace("T", " ");
  const rows = perfRows(result.raw);
  const withNode = result.raw.worker.node.length > 0 || result.runtimes.includes("node");
  const brows: BehaviourRow[] = behaviourRows(result.raw.behaviour, result.runtimes);
  const ab = aheadBehind(rows, result.raw.behaviour);
  const lk = result.versions.pythonPackages["livekit-agents"];
  const loads = [
    ...result.raw.room.map((r) => r.load[0]),
    ...result.raw.behaviour.map((r) => r.load[0]),
  ].filter(Number.isFinite);
  const lat = result.modelLatency;
  const list = (xs: string[]) => xs.length ? xs.map((x) => `- ${x}`).join("\n") : "- (none)";
  return [
    `Date: ${when} UTC · machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}  `,
    `Runtimes: ${result.versions.deno}${
      result.versions.node ? ` · ${result.versions.node}` : ""
    } · ` +
    `${result.versions.python} with livekit-agents ${lk} · load average at start ` +
    `${result.loadavg.start.join(" ")}, at end ${result.loadavg.end.join(" ")}` +
    (loads.length ? `, during the room runs ${Math.min(...loads)}–${Math.max(...loads)}` : "") +
    "  ",
    `Command: \`${result.command}\` · ${result.runs} interleaved runs per figure, ${result.calls} ` +
    `concurrent calls per room run · simulated LLM first token ${lat.llmFirstTokenMs} ms, TTS first ` +
    `audio ${lat.ttsFirstAudioMs} ms · turn detection: each side's default` +
    (result.turnDetection ? ` (this project: TURN_DETECTION=${result.turnDetection})` : ""),
    "",
    "**Performance** (median, min–max over the runs; ratios pair run i of each side):",
    "",
    perfTable(rows, withNode),
    "",
    "¹ In a real room: the real livekit-server, the caller on rtc-node, the Inference simulation, " +
    "inside the test sandbox; capacity counted in calls on both sides so the shared machine's CPU " +
    "turns no call away. The other rows: idle workers against the worker-endpoint stand-in.",
    "",
    "**Behaviour** (each answer from the scenario runs in a real room; `bench/python_peer/room_scenarios.ts`):",
    "",
    behaviourList(brows, result.runtimes),
    "",
    "Where this project is ahead of the recipe:",
    "",
    list(ab.ahead),
    "",
    "Where it is behind:",
    "",
    list(ab.behind),
    "",
    `Level (within ±${Math.round(LEVEL_BAND * 100)} %):`,
    "",
    list(ab.level),
    ...(evidence(result.raw).length ? ["", "Also seen:", "", list(evidence(result.raw))] : []),
    ...(result.skipped.length ? ["", "Not run:", "", list(result.skipped)] : []),
  ].join("\n");
}

/** Lines from the optional parts (the test utility, the console), each from its runs. */
export function evidence(raw: ComparisonRaw): string[] {
  const out: string[] = [];
  const failedCalls = raw.room.flatMap((r) =>
    r.calls.filter((c) => c.error).map((c) => `${r.runtime}: ${c.error}`)
  );
  const failedRuns = raw.room.filter((r) => r.error).map((r) => `${r.runtime}: ${r.error}`);
  if (failedCalls.length || failedRuns.length) {
    const n = raw.room.reduce((s, r) => s + r.calls.length, 0);
    out.push(
      `${failedCalls.length} of ${n} room calls and ${failedRuns.length} room run(s) did not ` +
        `complete, and are left out of the figures: ${
          [...failedRuns, ...failedCalls].map((e) => e.slice(0, 200)).join("; ")
        }`,
    );
  }
  const sr = raw.session;
  if (sr.length) {
    const pending = sr.find((x) => x.goodbye?.pending?.length)?.goodbye?.pending ?? [];
    out.push(
      `livekit-agents' own test utility \`AgentSession.run()\` (text only, no room; ${sr.length} ` +
        `run(s)): "hello" returned in ${sr.filter((x) => x.hello.returned).length}, the bye in ` +
        `${sr.filter((x) => x.goodbye?.returned).length}` +
        (pending.length ? ` (still pending: ${pending.join(", ")})` : "") +
        ": the deadlock is in the session, not in audio or rooms",
    );
  }
  const cp = raw.console.python;
  if (cp.length) {
    out.push(
      `console mode (${cp.length} run(s), the project's broker): end_session returned in ` +
        `${cp.filter((x) => x.toolReturned).length}, the goodbye played in ` +
        `${cp.filter((x) => x.goodbyePlayed).length}, the session closed by itself in ` +
        `${cp.filter((x) => x.sessionClosed).length}`,
    );
  }
  return out;
}
