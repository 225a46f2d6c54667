import { assert, assertEquals } from "@std/assert";
import { SANDBOX_ADDRESS, sandboxProblem } from "./sandbox.ts";

const problem = sandboxProblem();

Deno.test({
  name: problem
    ? `sandbox: no route leaves the namespace (ignored: ${problem})`
    : "sandbox: no route leaves the namespace; the only non-loopback address is the sandbox's",
  ignore: problem !== undefined,
  fn: async () => {
    // /proc/net/route: destination and mask in little-endian hex; no default route (0.0.0.0/0).
    const routes = (await Deno.readTextFile("/proc/net/route")).trim().split("\n").slice(1)
      .map((l) => l.split(/\s+/)).map(([iface, dest, , , , , , mask]) => ({ iface, dest, mask }));
    assert(routes.length > 0, "no routes at all");
    for (const r of routes) {
      assert(r.mask !== "00000000", `a default route via ${r.iface}`);
      assertEquals(r.iface, "em0", `a route via ${r.iface}`);
    }
    const v4 = Deno.networkInterfaces().filter((i) => i.family === "IPv4");
    assertEquals(
      v4.map((i) => i.address).filter((a) => !a.startsWith("127.")).sort(),
      [SANDBOX_ADDRESS],
    );
  },
});

Deno.test("sandbox: outside a sandbox the reason says how to get one", () => {
  const saved = Deno.env.get("EXIT_MESSAGE_SANDBOX");
  Deno.env.delete("EXIT_MESSAGE_SANDBOX");
  try {
    assert(sandboxProblem()?.includes("deno task test"));
  } finally {
    if (saved !== undefined) Deno.env.set("EXIT_MESSAGE_SANDBOX", saved);
  }
});
