import { assert, assertEquals, assertMatch } from "@std/assert";
import { DOC_TABLE_WIDTH, tableWidth } from "./doc_blocks.ts";
import {
  decisionFloorMs,
  idealReplyMs,
  parseTurnLines,
  voiceTable,
  type VoiceTurn,
  withShare,
} from "./voice_parts.ts";

Deno.test("ideal reply: the later of the decision floor and STT + LLM + TTS", () => {
  assertEquals(decisionFloorMs("vad"), 600);
  assertEquals(decisionFloorMs("stt"), 1100);
  assertEquals(decisionFloorMs("default"), 600);
  assertEquals(decisionFloorMs("default", true), 2500);
  assertEquals(idealReplyMs("vad"), 900);
  assertEquals(idealReplyMs("stt"), 1400);
  assertEquals(idealReplyMs("default"), 900);
  assertEquals(idealReplyMs("default", true), 2500);
  assertEquals(idealReplyMs("no_model"), 900);
});

Deno.test("turn lines: JSON (start) and pretty (dev, console) alike", () => {
  const json = '{"level":30,"decided_by":"vad","reply_ms":812,"msg":"turn: reply 0.81 s after"}';
  const pretty = [
    "[19:00:00.000] INFO (1): turn: reply 0.81 s after the end of speech · ...",
    '    decided_by: "cloud_model"',
    "    reply_ms: 812",
    "    eot_probability: 0.95",
    "[19:00:00.001] INFO (1): playout completed without interruption",
  ];
  const [a, b] = parseTurnLines([json, ...pretty]);
  assertEquals(a.decided_by, "vad");
  assertEquals(b, { decided_by: "cloud_model", reply_ms: 812, eot_probability: 0.95 });
});

Deno.test("table: framework share per runtime, the goal judged on Deno's median", () => {
  const turn = (runtime: "deno" | "node", playoutMs: number): VoiceTurn =>
    withShare({ runtime, where: "console", mode: "vad", playoutMs, load: 0 });
  const table = voiceTable([turn("deno", 1000), turn("node", 1100)]);
  assertMatch(table, /\| console \| vad \| deno \| 1 \| – \| – \| – \| – \| – \| 1000 \|/);
  assertMatch(
    table,
    /\| console \| vad \| deno \| 900 \| 100 \(100–100\) \| – \/ – \| met \(100 ms\); Deno ≤ Node \|/,
  );
  assertMatch(table, /\| console \| vad \| node \| 900 \| 200 \(200–200\) \| – \/ – \| {2}\|/);
  assert(tableWidth(table) <= DOC_TABLE_WIDTH, `${tableWidth(table)}`);
});
