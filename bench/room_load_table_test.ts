import { assert, assertEquals } from "@std/assert";
import { DOC_TABLE_WIDTH, tableWidth } from "./doc_blocks.ts";
import type { RoomLoadResult } from "./room_load.ts";
import { lkStatsList, roomLoadTable, shortWhy } from "./room_load_table.ts";

Deno.test("room load: a level's reason is one line under the table, without the caller's event dump", () => {
  const why = 'no caller event: caller-2: a reply to "Hello there!" within 60000 ms; caller ' +
    'events: [{"ev":"said"}]; stderr tail:\nline';
  assertEquals(
    shortWhy(why),
    'no caller event: caller-2: a reply to "Hello there!" within 60000 ms',
  );
  assertEquals(shortWhy(undefined), "");
  const level = {
    n: 4,
    calls: [
      { ok: true, replyLatencyMs: [1], goodbyeHeardInFull: true, byeToFirstAudioMs: 500 },
      { ok: false, replyLatencyMs: [], goodbyeHeardInFull: false },
    ],
    replyP50Ms: 2054.4,
    replyP95Ms: 4718.6,
    goodbyeShare: 0.75,
    completedShare: 0.75,
    idleTreeRssMiB: 900,
    peakTreeRssMiB: 2024,
    rssPerCallMiB: 281,
    cpuSecondsPerCall: 15.3,
    coresPerCall: 0.41,
    unrecognized: 1,
    holds: false,
    why: `1 call(s) failed: ${why}`,
  };
  const table = roomLoadTable({ levels: [level] } as unknown as RoomLoadResult);
  const lines = table.split("\n");
  assertEquals(lines[2], "| 4 | 2054 / 4719 | 1 of 1 | 75 % | 281 | 15.3 s, 0.41 | no |");
  assertEquals(
    lines.at(-1),
    '- 4 calls: 1 call(s) failed: no caller event: caller-2: a reply to "Hello there!" within 60000 ms',
  );
  assert(tableWidth(table) <= DOC_TABLE_WIDTH, `${tableWidth(table)}`);
});

Deno.test("room load: lk's statistics box becomes one line per room; other text stays as it came", () => {
  const box = [
    "Test Statistics:",
    "┌───┬──────┬──────────────┬──────────────────┐",
    "│ # │ Room │ Agent Joined │ Agent Join Delay │",
    "├───┼──────┼──────────────┼──────────────────┤",
    "│ 1 │ r-0  │ ✓            │ 2.98s            │",
    "│ 2 │ r-1  │ ✗            │                  │",
    "└───┴──────┴──────────────┴──────────────────┘",
  ].join("\n");
  assertEquals(
    lkStatsList(box),
    "- r-0: Agent Joined ✓, Agent Join Delay 2.98s\n- r-1: Agent Joined ✗",
  );
  assertEquals(lkStatsList("no rooms"), "```text\nno rooms\n```");
});
