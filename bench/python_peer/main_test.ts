import { assertEquals, assertThrows } from "@std/assert";
import { parseComparisonArgs } from "./main.ts";

Deno.test("parseComparisonArgs: defaults, --only, --no-node, and bad input said in one line", () => {
  const d = parseComparisonArgs([]);
  assertEquals(d.parts, ["worker", "perf", "behaviour", "session"]);
  assertEquals([d.runs, d.behaviourRuns, d.calls, d.maxJobs, d.silenceMs], [3, 1, 2, 8, 20_000]);
  assertEquals(d.runtimes, ["deno", "node", "python"]);
  assertEquals(d.scenarios, ["bye", "hangup_first", "sigterm", "llm_fails", "talk_over"]);
  assertEquals(parseComparisonArgs(["--only", "perf"]).parts, ["perf"]);
  assertEquals(parseComparisonArgs(["--parts", "worker, console"]).parts, ["worker", "console"]);
  const noNode = parseComparisonArgs(["--no-node"]);
  assertEquals([noNode.node, noNode.runtimes], [false, ["deno", "python"]]);
  assertThrows(() => parseComparisonArgs(["--only", "vad"]), Error, "unknown part vad");
  assertThrows(
    () => parseComparisonArgs(["--scenarios", "bye,nap"]),
    Error,
    "unknown scenario nap",
  );
  assertThrows(() => parseComparisonArgs(["--runtimes", "ruby"]), Error, "unknown runtime ruby");
  assertThrows(
    () => parseComparisonArgs(["--runs", "0"]),
    Error,
    "--runs takes a whole number ≥ 1",
  );
});
