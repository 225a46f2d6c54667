import { assertEquals } from "@std/assert";
import { keyAction, keysLine, quitHint } from "./keys.ts";

Deno.test("keys: voice mode has m, Ctrl+T and ?; text mode types, except Ctrl+T and ? on an empty line", () => {
  assertEquals(keyAction("voice", "m"), "mute");
  assertEquals(keyAction("voice", "ctrl+t"), "switch");
  assertEquals(keyAction("voice", "?"), "keys");
  assertEquals(keyAction("voice", "x"), undefined);
  assertEquals(keyAction("text", "m"), undefined);
  assertEquals(keyAction("text", "?"), "keys");
  assertEquals(keyAction("text", "?", true), undefined);
  assertEquals(keyAction("text", "ctrl+t", true), "switch");
  assertEquals(keyAction("wav", "m"), undefined);
});

Deno.test("keys: ? lists the keys of the current mode", () => {
  assertEquals(
    keysLine("voice"),
    "keys: m mute/unmute · Ctrl+T type instead · ? keys · Ctrl+C end (twice: quit)",
  );
  assertEquals(keysLine("text").includes("Ctrl+T speak instead"), true);
});

Deno.test("keys: the ending line offers Ctrl+C 'again' only after one, and nothing to a pipe", () => {
  assertEquals(quitHint({ kind: "key" }, true), " (Ctrl+C again to quit at once)");
  assertEquals(
    quitHint({ kind: "signal", signal: "SIGINT" }, false),
    " (Ctrl+C again to quit at once)",
  );
  assertEquals(
    quitHint({ kind: "signal", signal: "SIGTERM" }, false),
    " (a second SIGTERM quits at once)",
  );
  assertEquals(quitHint({ kind: "input" }, true), " (Ctrl+C to quit at once)");
  assertEquals(quitHint({ kind: "input" }, false), "");
});
