import { assertEquals } from "@std/assert";
import { formatSummary, median, pairedRatio, summarize } from "./stats.ts";

Deno.test("median: odd and even counts, unsorted input, NaN ignored, empty is NaN", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(median([5, NaN, 1, 3]), 3);
  assertEquals(Number.isNaN(median([])), true);
});

Deno.test("summarize: median, min, max and count", () => {
  assertEquals(summarize([10, 30, 20, 50, 40]), { median: 30, min: 10, max: 50, n: 5 });
  assertEquals(summarize([]).n, 0);
});

Deno.test("pairedRatio: pair by pair, skipping incomplete or zero pairs", () => {
  assertEquals(pairedRatio([1, 2, 3], [2, 4, 6]), { median: 0.5, min: 0.5, max: 0.5, n: 3 });
  assertEquals(pairedRatio([1, 2, NaN, 4], [2, 0, 1, 2]), { median: 1.25, min: 0.5, max: 2, n: 2 });
});

Deno.test("formatSummary: median (min–max), single value, n/a", () => {
  assertEquals(formatSummary({ median: 1.234, min: 1, max: 2, n: 3 }, 2), "1.23 (1.00–2.00)");
  assertEquals(formatSummary({ median: 7, min: 7, max: 7, n: 1 }), "7");
  assertEquals(formatSummary(summarize([])), "n/a");
});
