import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { blockMarkers, DOC_TABLE_WIDTH, tableWidth, withDocBlock } from "./doc_blocks.ts";
import { type BenchResult, markdownTable } from "./main.ts";
import { join, ROOT } from "./node_peer/paths_root.ts";
import { summarize } from "./stats.ts";

Deno.test("withDocBlock: replaces the named block in place, appends one that is missing", () => {
  const doc = "# B\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\nNotes.\n";
  assertEquals(
    withDocBlock(doc, "new"),
    "# B\n\n<!-- bench:start -->\nnew\n<!-- bench:end -->\n\nNotes.\n",
  );
  const room = withDocBlock(doc, "r", "room");
  assertStringIncludes(room, "Notes.\n\n<!-- bench:room:start -->\nr\n<!-- bench:room:end -->\n");
  assertEquals(withDocBlock(room, "r2", "room"), room.replace("\nr\n", "\nr2\n"));
  assertEquals(blockMarkers("voice").end, "<!-- bench:voice:end -->");
});

Deno.test("tableWidth: as deno fmt pads it, the delimiter row and escaped pipes not counted", () => {
  assertEquals(tableWidth("no table"), 0);
  // Columns of 5 and 3 (the minimum) characters: 1 + (5 + 3) + (3 + 3).
  assertEquals(tableWidth("| a | b |\n| --- | --- |\n| hello | c |"), 15);
  assertEquals(tableWidth("| a\\|b | c |\n| - | - |"), 14);
  assertEquals(tableWidth("| a |\n\ntext\n\n| abcdefgh |"), 12);
});

Deno.test("the Deno/Node table fits the docs: figures by number, their words in a legend", () => {
  const s = summarize([1211, 1159, 2034]);
  const rows = [
    "1a cold start: launch → console agent connected to broker",
    '3f framework share "bye" → first goodbye audio (minus stand-in LLM 200 + TTS 100 ms)',
  ].map((figure) => ({
    figure,
    unit: "ms",
    deno: s,
    node: s,
    ratio: summarize([0.36, 0.24, 0.37]),
    goal: "Deno ≤ 300 ms: NOT met (733 ms)",
  }));
  const md = markdownTable(rows);
  assertStringIncludes(md, "- **1a** cold start: launch → console agent connected to broker\n");
  assertStringIncludes(md, "| 3f | ms | 1211 (1159–2034) |");
  assert(tableWidth(md) <= DOC_TABLE_WIDTH, `${tableWidth(md)}`);
});

Deno.test("the saved Deno/Node result renders within the docs' width", async () => {
  const saved = JSON.parse(
    await Deno.readTextFile(join(ROOT, "bench/results/deno_node_latest.json")),
  ) as BenchResult;
  const md = markdownTable(saved.rows);
  assert(tableWidth(md) <= DOC_TABLE_WIDTH, `${tableWidth(md)}`);
});
