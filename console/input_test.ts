import { assertEquals } from "@std/assert";
import { KeyDecoder } from "./input.ts";
import { keyAction } from "./keys.ts";

Deno.test("input: raw keys edit a line; Enter sends it; escape sequences are skipped", () => {
  const d = new KeyDecoder();
  const events = d.feed("hex\x7flp\x1b[A!\r");
  assertEquals(events.filter((e) => e.type === "line"), [{ type: "line", text: "help!" }]);
  assertEquals(d.feed("\x03"), [{ type: "interrupt" }]);
  assertEquals(d.feed("ab\x15\x04"), [
    { type: "edit", buffer: "a" },
    { type: "edit", buffer: "ab" },
    { type: "edit", buffer: "" },
    { type: "eof" },
  ]);
});

Deno.test("input: in command mode (voice) keys are commands and nothing is typed", () => {
  const d = new KeyDecoder((key, typing) => keyAction("voice", key, typing) !== undefined);
  d.commandMode = true;
  assertEquals(d.feed("mx?\x14\r"), [
    { type: "key", key: "m" },
    { type: "key", key: "?" },
    { type: "key", key: "ctrl+t" },
  ]);
});

Deno.test("input: in text mode ? is a command on an empty line only, Ctrl+T always", () => {
  const d = new KeyDecoder((key, typing) => keyAction("text", key, typing) !== undefined);
  const events = d.feed("?why?\x14");
  assertEquals(events[0], { type: "key", key: "?" });
  assertEquals(events.at(-2), { type: "edit", buffer: "why?" });
  assertEquals(events.at(-1), { type: "key", key: "ctrl+t" });
});
