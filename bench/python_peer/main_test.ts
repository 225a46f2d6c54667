import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  buildPeerRows,
  describeBehaviour,
  type PeerBenchResult,
  peerTable,
  withPeerReadmeBlock,
} from "./main.ts";

Deno.test("withPeerReadmeBlock: inserted after the Deno/Node block once, then replaced in place", () => {
  const readme =
    "# x\n\n## Benchmarks\n\n<!-- bench:start -->\nT\n<!-- bench:end -->\n\nHow to read it.\n";
  const once = withPeerReadmeBlock(readme, "first");
  assertStringIncludes(once, "<!-- bench:end -->\n\n### LiveKit's Python recipe");
  assertStringIncludes(
    once,
    "<!-- bench-python:start -->\nfirst\n<!-- bench-python:end -->\n\nHow to read it.",
  );
  const twice = withPeerReadmeBlock(once, "second");
  assertEquals(twice, once.replace("first", "second"));
  assertStringIncludes(withPeerReadmeBlock("# y\n", "b"), "# y\n\n### LiveKit's Python recipe");
});

function raw(): PeerBenchResult["raw"] {
  return {
    worker: { deno: [], python: [] },
    console: {
      deno: [],
      python: [1, 2].map(() => ({
        coldStartMs: 5000,
        byeToToolStartMs: 270,
        toolReturned: false,
        byeToGoodbyeAudioMs: 430,
        frameworkByeToAudioMs: 130,
        goodbyeAudioMs: 500,
        goodbyeSynthesizedMs: 480,
        goodbyePlayed: true,
        sessionClosed: false,
        exitedByItself: false,
        ending: "killed" as const,
        exitCode: 137,
        waitedMs: 20_000,
        said: ["Goodbye!"],
        stuck: [{
          task: "tool_exec_end_session",
          awaits: [
            "exit_message.py:24 end_session",
            "agent_activity.py:1449 _pause_scheduling_task",
          ],
        }],
        timeline: [],
        peakRssKiB: 480 * 1024,
      })),
    },
    vad: [],
    session: [],
    room: [],
  };
}

Deno.test("describeBehaviour: counts from the runs, and where end_session waits", () => {
  const lines = describeBehaviour(raw());
  assertStringIncludes(
    lines[0],
    "console (2 runs): end_session returned in 0, the goodbye played in 2",
  );
  assertStringIncludes(lines[0], "ignored SIGINT for 5 s (killed)");
  assertEquals(
    lines[1],
    "where end_session waits: exit_message.py:24 end_session → agent_activity.py:1449 _pause_scheduling_task",
  );
});

Deno.test("buildPeerRows and peerTable: Python-only figures say n/a for Deno and for the ratio", () => {
  const rows = buildPeerRows(raw());
  const table = peerTable(rows);
  assertStringIncludes(
    table,
    "| end_session returned (1 yes, 0 no) |  | n/a | 0.0 (0.0–0.0) | n/a |",
  );
  assert(rows.every((r) => r.deno.n === 0));
});
