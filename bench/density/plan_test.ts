import { assertEquals, assertThrows } from "@std/assert";
import {
  formatLevels,
  MAX_N,
  nextLevel,
  parseDensityArgs,
  parseLevels,
  schedule,
  SPECS,
} from "./plan.ts";

Deno.test("parseLevels: a sorted list without repeats, a trailing + goes up", () => {
  assertEquals(parseLevels("4,1,2,2"), { list: [1, 2, 4], up: false });
  assertEquals(parseLevels("1,2,4,6,8+"), { list: [1, 2, 4, 6, 8], up: true });
  assertEquals(formatLevels(parseLevels("8,1+")), "1,8+");
  for (const bad of ["", "0", "1,x", "2.5", `${MAX_N + 1}`]) {
    assertThrows(() => parseLevels(bad), Error, "--levels");
  }
});

Deno.test("nextLevel: up by 4, not past the top", () => {
  assertEquals(nextLevel(8), 12);
  assertEquals(nextLevel(MAX_N - 2), undefined);
});

Deno.test("parseDensityArgs: defaults, and --levels for every runtime", () => {
  const d = parseDensityArgs(["--only", "density"]);
  assertEquals(d.runtimes, ["deno", "before", "recipe"]);
  assertEquals(d.levels.before, { list: [1, 6], up: false });
  assertEquals(d.levels.deno, { list: [1, 2, 4, 6, 8], up: true });
  assertEquals(d.levels.recipe, SPECS.recipe.defaultLevels);
  assertEquals(
    [d.talkSeconds, d.callersPerProcess, d.memoryBudgetMiB, d.silenceMs, d.staggerMs],
    [30, 4, 4096, 10_000, 0],
  );
  assertEquals(d.docs, true);
  const o = parseDensityArgs([
    "--levels",
    "1,2",
    "--runtimes",
    "deno,before",
    "--talk-seconds",
    "15",
    "--no-docs",
  ]);
  assertEquals(o.levels.deno, { list: [1, 2], up: false });
  assertEquals(o.levels.before, { list: [1, 2], up: false });
  assertEquals([o.runtimes, o.talkSeconds, o.docs], [["deno", "before"], 15, false]);
  assertThrows(() => parseDensityArgs(["--runtimes", "deno,go"]), Error, "unknown runtime go");
  assertThrows(() => parseDensityArgs(["--talk-seconds", "2"]), Error, "--talk-seconds");
});

Deno.test("schedule: level by level, each runtime that has it in turn", () => {
  const { levels } = parseDensityArgs(["--runtimes", "deno,before,recipe"]);
  assertEquals(
    schedule(["deno", "before", "recipe"], levels).map(({ runtime, n }) => `${runtime}:${n}`),
    [
      "deno:1",
      "before:1",
      "recipe:1",
      "deno:2",
      "recipe:2",
      "deno:4",
      "recipe:4",
      "deno:6",
      "before:6",
      "recipe:6",
      "deno:8",
    ],
  );
});
