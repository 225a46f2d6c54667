import { assertEquals, assertStringIncludes } from "@std/assert";
import { levelFigures } from "./figures.ts";
import { goodCall, level } from "./testdata/samples.ts";
import { baselineP95, largestHeld, levelVerdict } from "./verdict.ts";
import type { LevelSamples } from "./samples.ts";

const verdict = (s: LevelSamples, baseline: number, endsCalls = true) =>
  levelVerdict(s, levelFigures(s, 4096), baseline, endsCalls);

Deno.test("a level of good calls within 1.5x the baseline p95 holds", () => {
  assertEquals(verdict(level(6), 1200), { holds: true });
  // Exactly 1.5x still holds.
  assertEquals(verdict(level(6), 800), { holds: true });
});

Deno.test("reply p95 above 1.5x the baseline does not hold, and says by how much", () => {
  const v = verdict(level(6), 700);
  assertEquals(v.holds, false);
  assertEquals(v.why, "reply p95 1200 ms > 1.5 × 700 ms");
});

Deno.test("every failing criterion is named", () => {
  const calls = [
    goodCall(0),
    {
      ...goodCall(1),
      answered: false,
      replyLatencyMs: [],
      byeSaid: false,
      goodbyeInFull: false,
      disconnectReason: undefined,
      goodbyeEndToGoneMs: undefined,
      error: "no agent came within 60 s",
    },
    { ...goodCall(2), goodbyeInFull: false },
    { ...goodCall(3), disconnectReason: undefined, goodbyeEndToGoneMs: undefined },
  ];
  const v = verdict(level(4, { calls, roomsLeft: 1 }), 1200);
  assertEquals(v.holds, false);
  for (
    const part of [
      "1 of 4 call(s) not answered",
      "2 goodbye(s) not heard in full",
      "2 call(s) not ended by the agent",
      "1 room(s) left",
    ]
  ) assertStringIncludes(v.why!, part);
});

Deno.test("an answered call that failed says its error's first line", () => {
  const calls = [goodCall(0), {
    ...goodCall(1),
    error: "no reply to a question heard within 30 s\nstack...",
    goodbyeInFull: false,
  }];
  assertStringIncludes(
    verdict(level(2, { calls }), 1200).why!,
    "1 call(s) failed: no reply to a question heard within 30 s",
  );
});

Deno.test("an agent that does not end its calls is not judged on endings and rooms", () => {
  const calls = [0, 1].map((i) => ({
    ...goodCall(i),
    disconnectReason: undefined,
    goodbyeEndToGoneMs: undefined,
  }));
  const s = level(2, { calls, roomsLeft: 2 });
  assertEquals(verdict(s, 1200, false), { holds: true });
  assertEquals(verdict(s, 1200, true).holds, false);
});

Deno.test("a level that could not run does not hold", () => {
  const v = verdict(level(2, { error: "python peer exited before /registered worker/" }), 1200);
  assertEquals(v, { holds: false, why: "python peer exited before /registered worker/" });
});

Deno.test("baseline is the smallest level's p95; largest held is the largest level that held", () => {
  const ls = [8, 1, 4].map((n) => ({
    n,
    figures: levelFigures(level(n, { calls: [goodCall(0, [n * 100])] }), 4096),
  }));
  assertEquals(baselineP95(ls), 100);
  assertEquals(baselineP95([]), NaN);
  assertEquals(
    largestHeld([
      { n: 1, verdict: { holds: true } },
      { n: 4, verdict: { holds: true } },
      { n: 8, verdict: { holds: false, why: "x" } },
    ]),
    4,
  );
  assertEquals(largestHeld([{ n: 1, verdict: { holds: false } }]), 0);
});
