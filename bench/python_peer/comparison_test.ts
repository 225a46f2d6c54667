import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { aheadBehind } from "./ahead_behind.ts";
import { evidence, renderComparison } from "./comparison.ts";
import { DOC_TABLE_WIDTH, tableWidth } from "../doc_blocks.ts";
import type { ComparisonRaw, ComparisonResult } from "./comparison_result.ts";
import { perfRows, perfTable } from "./perf_table.ts";
import type { PerfCall, RoomPerfRun } from "./room_perf.ts";

const MiB = 1024;

function call(over: Partial<PerfCall> = {}): PerfCall {
  return {
    dispatchTries: 1,
    replyLatencyMs: [1000, 1200],
    byeSaid: true,
    byeToGoodbyeMs: 2000,
    goodbyeInFull: true,
    goodbyeEndToDisconnectMs: 600,
    disconnectReason: "ROOM_DELETED",
    ...over,
  };
}

function perf(runtime: "deno" | "python", scale: number, calls: PerfCall[]): RoomPerfRun {
  return {
    runtime,
    load: [1, 1],
    registeredMs: 2000 * scale,
    idle: { rssKiB: 900 * MiB * scale, pssKiB: 600 * MiB, processes: 4 },
    peakRssKiB: (900 * scale + 2 * 300 * scale) * MiB,
    inCalls: { rssKiB: 0, pssKiB: (600 + 2 * 100 * scale) * MiB, processes: 6 },
    n: calls.length,
    calls,
    silenceBoundMs: 20_000,
  };
}

function raw(): ComparisonRaw {
  const never = { goodbyeEndToDisconnectMs: undefined, disconnectReason: undefined };
  return {
    worker: { deno: [], node: [], python: [] },
    room: [
      perf("deno", 1, [call(), call({ replyLatencyMs: [1100, 1300] })]),
      perf("python", 2, [call(never), call(never)]),
      perf("python", 2, [call(never), call(never)]),
      perf("deno", 1, [
        call(),
        call({ error: "the call ended (ROOM_DELETED) before ...", byeSaid: false }),
      ]),
    ],
    behaviour: [],
    session: [],
    console: { deno: [], python: [] },
  };
}

Deno.test("perfRows: per-call memory, medians per run, ratios pair run i of each side, 'never' in words", () => {
  const rows = perfRows(raw());
  const by = (prefix: string) => rows.find((r) => r.figure.startsWith(prefix))!;
  const rss = by("RSS per concurrent call");
  assertEquals([rss.deno.median, rss.python.median], [300, 600]);
  assertEquals(rss.pythonRatio.median, 2);
  const pss = by("PSS per concurrent call");
  assertEquals([pss.deno.median, pss.python.median], [100, 200]);
  // Deno's second run lost a call: memory per call counts the calls that were dispatched.
  const reply = by("reply latency");
  assertEquals(reply.deno.median, (1150 + 1100) / 2);
  const gone = by("goodbye end");
  assertEquals(gone.deno.median, 600);
  assertEquals(gone.words?.python, "never (20 s waited)");
  assertEquals(gone.python.n, 0);
  const full = by("calls that said bye");
  assertEquals([full.deno.min, full.python.median], [100, 100]);
  assertEquals(
    rows.some((r) => r.where === "stand-in"),
    false,
    "no stand-in rows without worker runs",
  );
});

Deno.test("perfTable: Node columns only with the Node peer; words and dashes where figures are not", () => {
  const rows = perfRows(raw());
  // The legend numbers the figures; the table names them by number (¹: in a real room).
  const [legend, table] = perfTable(rows, false).split("\n\n");
  assertEquals(legend.split("\n").length, rows.length);
  const bye = rows.findIndex((r) => r.figure.startsWith("calls that said bye")) + 1;
  assert(legend.split("\n")[bye - 1].startsWith(`${bye}. calls that said bye`), legend);
  const two = table.split("\n");
  assertEquals(two[0], "| Figure | Unit | Deno | Python (recipe) | Python/Deno |");
  assertEquals(two[1], "| --- | --- | --- | --- | --- |");
  assert(
    two.some((l) => l.includes("| 600 (600–600) | never (20 s waited) | n/a |")),
    two.join("\n"),
  );
  assert(two.includes(`| ${bye} ¹ | % | 100 (100–100) | 100 (100–100) | — |`), two.join("\n"));
  const three = perfTable(rows, true).split("\n\n")[1].split("\n");
  assertEquals(
    three[0],
    "| Figure | Unit | Deno | Node | Python (recipe) | Python/Deno | Node/Deno |",
  );
  assertEquals(three[2].split("|").length, two[2].split("|").length + 2);
});

Deno.test("aheadBehind: lower is better; ±10 % is level; a figure against 'never' is ahead", () => {
  const rows = perfRows(raw());
  const ab = aheadBehind(rows, []);
  assert(ab.ahead.some((l) => l.startsWith("RSS per concurrent call")), ab.ahead.join("\n"));
  assert(
    ab.ahead.some((l) => l.startsWith("goodbye end → caller disconnected: 600 ms against never")),
  );
  assert(ab.level.some((l) => l.startsWith('bye → "Goodbye!" heard')), ab.level.join("\n"));
  // Make the recipe twice as fast to reply: the row moves to "behind".
  const faster = raw();
  for (const r of faster.room.filter((r) => r.runtime === "python")) {
    for (const c of r.calls) c.replyLatencyMs = c.replyLatencyMs.map((x) => x / 2);
  }
  const ab2 = aheadBehind(perfRows(faster), []);
  assert(ab2.behind.some((l) => l.startsWith("reply latency")), ab2.behind.join("\n"));
});

Deno.test("renderComparison: header with load and command, the table and the answers, errors listed; fits the docs", () => {
  const result: ComparisonResult = {
    date: "2026-11-29T20:00:00.000Z",
    command: "deno task bench:python --runs 2",
    machine: { hostname: "h", cpu: "CPU", cores: 2, memGiB: 24, kernel: "6.1" },
    versions: {
      deno: "deno 2.9.6",
      python: "Python 3.11.7",
      pythonPackages: { "livekit-agents": "1.8.9" },
    },
    modelLatency: { llmFirstTokenMs: 200, ttsFirstAudioMs: 100 },
    turnDetection: "",
    loadavg: { start: [1, 2, 3], end: [4, 5, 6] },
    runs: 2,
    calls: 2,
    runtimes: ["deno", "python"],
    skipped: ["the Node peer: not prepared"],
    raw: raw(),
  };
  const text = renderComparison(result);
  assertStringIncludes(
    text,
    "Date: 2026-11-29 20:00 UTC · machine: CPU, 2 cores, 24 GiB, Linux 6.1",
  );
  assertStringIncludes(
    text,
    "livekit-agents 1.8.9 · load average at start 1 2 3, at end 4 5 6, during the room runs 1–1",
  );
  assertStringIncludes(text, "Command: `deno task bench:python --runs 2`");
  assertStringIncludes(text, "| Figure | Unit | Deno | Python (recipe) | Python/Deno |");
  assertStringIncludes(text, "\n1. real room: launch → registered with livekit-server\n");
  assertStringIncludes(text, "`bench/python_peer/room_scenarios.ts`):\n\n- (no scenario ran)\n");
  assert(tableWidth(text) > 0 && tableWidth(text) <= DOC_TABLE_WIDTH, `${tableWidth(text)}`);
  assertStringIncludes(text, "1 of 8 room calls and 0 room run(s) did not complete");
  assertStringIncludes(text, "Not run:\n\n- the Node peer: not prepared");
  assertEquals(evidence({ ...raw(), room: [] }), []);
});
