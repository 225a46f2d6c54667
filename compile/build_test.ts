import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { fileURLToPath } from "node:url";
import {
  describeCommand,
  isBaseRuntimeFailure,
  NO_BASE_RUNTIME_EXIT_CODE,
  noBaseRuntimeMessage,
  parseBuildFlags,
} from "./build.ts";
import type { CompilePlan } from "./plan.ts";
import { TARGETS } from "./plan.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("build flags", () => {
  assertEquals(parseBuildFlags([]), { dryRun: false, noCheck: false, verbose: false });
  assertEquals(parseBuildFlags(["--target", "aarch64-unknown-linux-gnu", "--dry-run"]), {
    dryRun: true,
    noCheck: false,
    verbose: false,
    target: "aarch64-unknown-linux-gnu",
  });
  assertEquals(parseBuildFlags(["--output=x", "--no-check"]).output, "x");
  assertThrows(() => parseBuildFlags(["--env-file"]), Error, "unknown flag --env-file");
  assertThrows(() => parseBuildFlags(["--target"]), Error, "needs a value");
});

Deno.test("the printed command elides the --exclude list unless verbose", () => {
  const plan = {
    args: ["compile", "-A", "--exclude", "/r/a", "--exclude", "/r/b", "main.ts"],
  } as CompilePlan;
  assertEquals(
    describeCommand(plan),
    "deno compile -A main.ts  (+ 2 --exclude paths; --verbose lists them)",
  );
  assertEquals(
    describeCommand(plan, true),
    "deno compile -A --exclude /r/a --exclude /r/b main.ts",
  );
});

Deno.test("a failed base-runtime download is told apart from a failed build", () => {
  assert(isBaseRuntimeFailure("0: Setting up base binary.\n1: error sending request"));
  assert(!isBaseRuntimeFailure("error: Type checking failed."));
  const msg = noBaseRuntimeMessage(TARGETS["x86_64-unknown-linux-gnu"].triple, [
    "DENORT_BIN (unset)",
  ]);
  assertStringIncludes(msg, "nothing was built");
  assertStringIncludes(msg, "DENORT_BIN (unset)");
  assertStringIncludes(msg, "deno task compile");
});

Deno.test("compile:verify without a base runtime says NOT RUN and exits 3", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "exit-message-denodir-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "compile/verify.ts", "--offline", "--no-measure"],
    cwd: ROOT,
    // An empty Deno cache: no cached base runtime, whatever this machine has.
    env: { DENORT_BIN: "", DENO_DIR: denoDir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(denoDir, { recursive: true }));
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, NO_BASE_RUNTIME_EXIT_CODE, stderr);
  assertStringIncludes(stderr, "NOT RUN: no base runtime");
  assertStringIncludes(stderr, "no smoke check ran");
  assertStringIncludes(stderr, "deno task compile:verify");
  const stdout = new TextDecoder().decode(out.stdout);
  assert(!/PASS/.test(stdout + stderr), "never reports a pass it did not see");
});
