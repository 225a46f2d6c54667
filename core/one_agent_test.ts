import { assertEquals } from "@std/assert";
import { shouldLeave } from "./one_agent.ts";

Deno.test("one agent: the one that has not served leaves to the one that has, whatever the identities", () => {
  const served = { identity: "agent-B", served: true };
  const fresh = { identity: "agent-A", served: false };
  assertEquals(shouldLeave(fresh, served), true);
  assertEquals(shouldLeave(served, fresh), false);
});

Deno.test("one agent: between two alike, exactly one leaves: the identity that sorts last", () => {
  for (const status of [true, false]) {
    const a = { identity: "agent-AJ_a", served: status };
    const b = { identity: "agent-AJ_b", served: status };
    assertEquals([shouldLeave(a, b), shouldLeave(b, a)], [false, true]);
  }
});
