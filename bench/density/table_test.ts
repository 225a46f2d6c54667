import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { DOC_TABLE_WIDTH, tableWidth } from "../doc_blocks.ts";
import { type DensityResult, judge } from "./result.ts";
import type { LevelSamples } from "./samples.ts";
import { behaviourTable, costTable, renderDensity, sideBySide, summaryLines } from "./table.ts";
import { goodCall, level } from "./testdata/samples.ts";

/** The recipe's calls: goodbye heard, never disconnected; twice this project's PSS per call. */
function recipe(n: number): LevelSamples {
  const calls = Array.from({ length: n }, (_, i) => ({
    ...goodCall(i),
    disconnectReason: undefined,
    goodbyeEndToGoneMs: undefined,
  }));
  return level(n, {
    runtime: "recipe",
    calls,
    roomsLeft: n,
    jobsEnded: 0,
    peak: { rssKiB: (1000 + 300 * n) * 1024, pssKiB: (600 + 100 * n) * 1024, processes: 9 },
    talk: { seconds: 30, treeCpuS: 6 * n, callersCpuS: 15 },
  });
}

function result(): DensityResult {
  const slow = level(16, {
    calls: Array.from({ length: 16 }, (_, i) => goodCall(i, [3000])),
    vadLate: { warnings: 40, maxDelayMs: 2650 },
  });
  const raw = [level(1), level(6), slow, recipe(1), recipe(6)];
  return {
    kind: "density",
    date: "2026-12-03T12:00:00.000Z",
    command: "deno task bench --only density",
    machine: { hostname: "h", cpu: "AMD EPYC", cores: 2, memGiB: 24, kernel: "6.18" },
    versions: { deno: "2.9.6 (@livekit/agents 1.9.0)", python: "3.11.7 (livekit-agents 1.8.9)" },
    modelLatency: { llmFirstTokenMs: 200, ttsFirstAudioMs: 100 },
    loadavg: { start: [0.1, 0.2, 0.3], end: [1, 2, 3] },
    memoryBudgetMiB: 4096,
    talkSeconds: 30,
    callersPerProcess: 4,
    silenceMs: 10_000,
    staggerMs: 0,
    notes: ["deno: 16 held; 20 not run"],
    runtimes: judge(raw, ["deno", "recipe"], 4096),
    wallSeconds: 1200,
  };
}

Deno.test("the block's tables fit the docs' width", () => {
  const text = renderDensity(result());
  assert(tableWidth(text) > 0);
  assert(tableWidth(text) <= DOC_TABLE_WIDTH, `tables ${tableWidth(text)} columns wide`);
});

Deno.test("cost table: per call figures, the callers' cores, the 2-core capacity", () => {
  const rows = costTable(result().runtimes).split("\n");
  assertEquals(
    rows.find((r) => r.startsWith("| this project | 6 |")),
    "| this project | 6 | 0.50→1.50 | 0.100 / 0.200 | 10.0 | 50 | 100 | 0.50 | 15 / 49 |",
  );
  assertEquals(
    rows.find((r) => r.startsWith("| recipe | 6 |")),
    "| recipe | 6 | 0.50→1.50 | 0.200 / 0.200 | 10.0 | 100 | 300 | 0.50 | 7 / 24 |",
  );
});

Deno.test("behaviour table: replies, VAD lag, goodbyes, endings (never for the recipe), rooms, jobs, verdict", () => {
  const rows = behaviourTable(result().runtimes).split("\n");
  assertEquals(
    rows.find((r) => r.startsWith("| this project | 6 |")),
    "| this project | 6 | 1100 / 1200 | 0.0 | 6 of 6 | 100 (100) | 6 / 6 | 0 | 6 of 6 | yes |",
  );
  assertEquals(
    rows.find((r) => r.startsWith("| this project | 16 |")),
    "| this project | 16 | 3000 / 3000 | 2.6 | 16 of 16 | 100 (100) | 16 / 16 | 0 | 16 of 16 | no |",
  );
  assertEquals(
    rows.find((r) => r.startsWith("| recipe | 6 |")),
    "| recipe | 6 | 1100 / 1200 | 0.0 | 6 of 6 | never | 6 / 0 | 6 | 0 of 6 | yes |",
  );
});

Deno.test("side by side at the same N says who is ahead", () => {
  const side = sideBySide(result().runtimes)!;
  assertStringIncludes(side, "| 6 | 0.100 / 0.200 | 50 / 100 | both |");
  assertEquals(sideBySide(result().runtimes.filter((r) => r.runtime === "deno")), undefined);
});

Deno.test("summary: largest N held, the cost at 6 calls, the capacity; why a level failed", () => {
  const r = result();
  const [ours, theirs] = summaryLines(r);
  assertStringIncludes(ours, "largest N held **6** (reply p95 ≤ 1.5 × 1200 ms)");
  assertStringIncludes(ours, "at 6 call(s) 0.100 cores and 50 MiB PSS per call");
  assertStringIncludes(ours, "holds 15 calls by CPU and 49 by memory (4 GiB)");
  assertStringIncludes(theirs, "largest N held **6**");
  const text = renderDensity(r);
  assertStringIncludes(text, "- this project, 16: reply p95 3000 ms > 1.5 × 1200 ms");
  assertStringIncludes(text, "Command: `deno task bench --only density`");
  assertStringIncludes(text, "The recipe never ends its calls");
  assertStringIncludes(text, "- deno: 16 held; 20 not run");
});
