import { assertEquals } from "@std/assert";
import { availableFrom, crashIn, parseAgentLine } from "./room_agent.ts";

Deno.test("parseAgentLine: pino lines (msg), Python lines (message), nothing else", () => {
  const deno = parseAgentLine(
    5,
    '{"level":30,"pid":7,"room":"r","msg":"session ended: end_session"}',
  );
  assertEquals([deno?.t, deno?.msg, deno?.json.room], [5, "session ended: end_session", "r"]);
  const py = parseAgentLine(6, '{"message": "session closed", "level": "DEBUG", "pid": 8}');
  assertEquals([py?.msg, py?.json.pid], ["session closed", 8]);
  // A prefix before the JSON (a runtime's own warning) is skipped; non-JSON lines are not logs.
  assertEquals(parseAgentLine(1, 'Warning: x {"msg":"m"}')?.msg, "m");
  assertEquals(parseAgentLine(1, "plain text"), undefined);
  assertEquals(parseAgentLine(1, '{"neither": 1}'), undefined);
  assertEquals(parseAgentLine(1, "{cut"), undefined);
});

Deno.test("availableFrom: the last capacity line decides; none means available", () => {
  const full = "worker is at full capacity, marking as unavailable";
  const below = "worker is below capacity, marking as available";
  assertEquals(availableFrom([]), true);
  assertEquals(availableFrom(["registered worker", full]), false);
  assertEquals(availableFrom([full, "job started", below]), true);
  assertEquals(availableFrom([below, full, "other"]), false);
});

Deno.test("crashIn: the error line and the package frame where it broke; log lines are not crashes", () => {
  const out = [
    '{"level":50,"msg":"Error: in a log line is not a crash"}',
    "node:internal/assert:14",
    "    throw new ERR_INTERNAL_ASSERTION(message);",
    "Error [ERR_INTERNAL_ASSERTION]: This is caused by either a bug in Node.js or incorrect usage",
    "    at assert (node:internal/assert:14:11)",
    "    at Object.write (/tmp/p/node_modules/@livekit/agents/src/stream/stream_channel.ts:22:33)",
    "    at WebSocket.<anonymous> (/tmp/p/node_modules/@livekit/agents/src/inference/stt.ts:908:31)",
  ];
  assertEquals(
    crashIn(out),
    "Error [ERR_INTERNAL_ASSERTION]: This is caused by either a bug in Node.js or incorrect usage " +
      "at @livekit/agents/src/stream/stream_channel.ts:22:33",
  );
  assertEquals(crashIn(["TypeError: x is undefined"]), "TypeError: x is undefined");
  assertEquals(crashIn(out.slice(0, 3)), undefined);
});
