import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { fileURLToPath } from "node:url";
import {
  describeCommand,
  innermostCause,
  isBaseRuntimeFailure,
  NO_BASE_RUNTIME_EXIT_CODE,
  noBaseRuntimeMessage,
  parseBuildFlags,
} from "./build.ts";
import type { CompilePlan } from "./plan.ts";
import { DEFAULT_TARGET, TARGETS } from "./plan.ts";
import { findBaseRuntime } from "./denort.ts";

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

Deno.test("a failed base-runtime download is told apart from a failed build, and said in one line", () => {
  const denoSays = [
    "\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'dist/x.tmp-1'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x.zip)",
    "    2: client error (Connect)",
    "    3: dns error: failed to lookup address information: Name or service not known",
    "",
    "Stack backtrace:",
    "   0: <unknown>",
  ].join("\n");
  assert(isBaseRuntimeFailure(denoSays));
  assert(!isBaseRuntimeFailure("error: Type checking failed."));
  assertEquals(
    innermostCause(denoSays),
    "dns error: failed to lookup address information: Name or service not known",
  );
  const msg = noBaseRuntimeMessage(TARGETS["x86_64-unknown-linux-gnu"].triple, {
    cause: innermostCause(denoSays),
    cachePath: "/home/u/.cache/deno/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
  });
  assertEquals(msg.split("\n").length, 1);
  assertStringIncludes(msg, "nothing was built");
  assertStringIncludes(msg, "(dns error: failed to lookup address information");
  assertStringIncludes(msg, "DENORT_BIN=/path/to/denort or put the zip at /home/u/.cache/deno/");
  assertStringIncludes(msg, "run deno task compile again");
  assert(!/workplace|sandbox|this machine/.test(msg), msg);
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

const childEnv = Deno.env.toObject();
delete childEnv.DENORT_BIN;
const runtimeHere = await findBaseRuntime({
  env: { get: (k) => childEnv[k] },
  target: DEFAULT_TARGET,
});

Deno.test({
  name: "deno task compile where denort cannot be downloaded: one line, exit 3, no empty dist/",
  // With a base runtime in the Deno cache the build would succeed: nothing to show then.
  ignore: runtimeHere.found,
}, async () => {
  const env = childEnv;
  const dir = await Deno.makeTempDir({ prefix: "exit-message-compile-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "compile/build.ts",
        "--no-check",
        "--output",
        `${dir}/dist/sub/exit-message`,
      ],
      cwd: ROOT,
      // The download goes to a loopback port nothing listens on, so it fails the same way on
      // every machine (as it does where dl.deno.land cannot be reached).
      env: { ...env, HTTPS_PROXY: "http://127.0.0.1:1", NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, NO_BASE_RUNTIME_EXIT_CODE, stderr);
    const errors = stderr.split("\n").filter((l) => /error/i.test(l));
    assertEquals(errors.length, 1, stderr);
    assertStringIncludes(errors[0], "error: nothing was built: deno compile could not download");
    assert(!/Stack backtrace|Caused by/.test(stderr), stderr);
    assertEquals([...Deno.readDirSync(dir)], [], "nothing left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a DENORT_BIN that is no file is said in one line, before anything is built", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "compile/build.ts", "--no-check"],
    cwd: ROOT,
    env: { DENORT_BIN: "/nonexistent/denort" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assertEquals(out.code, 2, stderr);
  assertEquals(stderr.split("\n").length, 1, stderr);
  assertStringIncludes(stderr, "DENORT_BIN=/nonexistent/denort is not a file");
});
