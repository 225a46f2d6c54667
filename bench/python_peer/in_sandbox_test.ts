import { assertEquals } from "@std/assert";
import { rotated } from "./in_sandbox.ts";

Deno.test("rotated: each run starts with the next runtime, so none always goes first", () => {
  const xs = ["deno", "node", "python"];
  assertEquals([0, 1, 2, 3].map((i) => rotated(xs, i)[0]), ["deno", "node", "python", "deno"]);
  assertEquals(rotated(xs, 1), ["node", "python", "deno"]);
  assertEquals(rotated([], 3), []);
});
