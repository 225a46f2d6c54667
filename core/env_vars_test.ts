import { assertEquals } from "@std/assert";
import { AGENT_ENV_VARS, formatEnvVars } from "./env_vars.ts";

Deno.test("env vars: every variable core/config.ts reads is in the --help list", async () => {
  const source = await Deno.readTextFile(new URL("./config.ts", import.meta.url));
  const read = [...source.matchAll(/env, "([A-Z_]+)"|"(LIVEKIT_[A-Z_]+)"/g)].map((m) =>
    m[1] ?? m[2]
  );
  assertEquals(read.length > 5, true, "the scan found nothing: has config.ts changed shape?");
  const listed = AGENT_ENV_VARS.flatMap((v) => v.name.split(", "));
  assertEquals(read.filter((name) => !listed.includes(name)), []);
});

Deno.test("env vars: two aligned columns; a long name gets its own line", () => {
  assertEquals(
    formatEnvVars([{ name: "A_B", help: "short" }, { name: "X".repeat(30), help: "long" }]),
    `  A_B                     short\n  ${"X".repeat(30)}\n                          long`,
  );
});
