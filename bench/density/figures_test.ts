import { assertAlmostEquals, assertEquals } from "@std/assert";
import { capacity, levelFigures, percentile } from "./figures.ts";
import { goodCall, level } from "./testdata/samples.ts";

Deno.test("percentile: nearest rank over the finite values", () => {
  const xs = [5, 1, 4, 2, 3, NaN];
  assertEquals(percentile(xs, 50), 3);
  assertEquals(percentile(xs, 95), 5);
  assertEquals(percentile(xs, 0), 1);
  assertEquals(percentile([], 50), NaN);
  // 20 values: p95 is the 19th.
  assertEquals(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95), 19);
});

Deno.test("capacity: 2 × 0.75 cores over cores per call; 0.75 × budget less idle over memory", () => {
  assertEquals(capacity(0.1, 50, 600, 4096), { byCpu: 15, byMemory: 49 });
  assertEquals(capacity(0.3, 80, 0, 4096), { byCpu: 5, byMemory: 38 });
  assertEquals(capacity(0, NaN, 600, 4096), { byCpu: NaN, byMemory: NaN });
  // An idle tree above the budget leaves room for no call.
  assertEquals(capacity(0.1, 50, 4000, 4096).byMemory, 0);
});

Deno.test("levelFigures: per call arithmetic from fixed samples", () => {
  const f = levelFigures(level(4), 4096);
  assertAlmostEquals(f.coresPerCallTalk, 0.1, 1e-12);
  // 10 CPU s per call over a 50 s call.
  assertAlmostEquals(f.coresPerCallWhole, 0.2, 1e-12);
  assertEquals(f.cpuSecondsPerCall, 10);
  assertEquals(f.rssPerCallMiB, 100);
  assertEquals(f.pssPerCallMiB, 50);
  assertEquals(f.idlePssMiB, 600);
  assertEquals([f.replyP50Ms, f.replyP95Ms, f.replies], [1100, 1200, 12]);
  assertEquals([f.answered, f.byeSaid, f.goodbyesInFull, f.endedByAgent, f.completed], [
    4,
    4,
    4,
    4,
    4,
  ]);
  assertEquals(f.goodbyeToGoneMs, { median: 100, max: 100, n: 4 });
  assertEquals(f.callersCores, 0.5);
  assertEquals(f.capacity, { byCpu: 15, byMemory: 49 });
});

Deno.test("levelFigures: calls that never disconnected and a failed call", () => {
  const never = { ...goodCall(1), goodbyeEndToGoneMs: undefined, disconnectReason: undefined };
  const failed = {
    ...goodCall(2, [900]),
    byeSaid: false,
    goodbyeInFull: false,
    error: "no reply to a question heard within 30 s",
    goodbyeEndToGoneMs: undefined,
    disconnectReason: undefined,
  };
  const f = levelFigures(level(3, { calls: [goodCall(0), never, failed] }), 4096);
  assertEquals(f.goodbyeToGoneMs, { median: 100, max: 100, n: 1 });
  assertEquals([f.endedByAgent, f.goodbyesInFull, f.completed, f.byeSaid], [1, 2, 2, 2]);
  assertEquals(f.replies, 7);
});
