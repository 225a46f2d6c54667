import { assertEquals, assertStringIncludes } from "@std/assert";
import { blockMarkers, tableWidth, withDocBlock } from "./doc_blocks.ts";

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
