/**
 * `deno task test [ARGS]`: the whole suite, the way CI runs it.
 *
 * 1. The npm packages are installed first (the sandbox has no route to the registry).
 * 2. The pinned livekit-server is built once per machine when Go is there (a few minutes the
 *    first time; see `livekit_server.ts`). Without Go, the real-room tests are reported as
 *    ignored, with the reason and the command that fixes it.
 * 3. `deno test -A ARGS` runs inside a private network namespace (see `sandbox.ts`), so no test
 *    can send a packet anywhere but loopback and the namespace's own address.
 *
 * With `REQUIRE_REAL_ROOM=1` (CI) a missing server or sandbox fails the run instead.
 *
 * @module
 */
import { buildServer, findServer } from "./real_room/livekit_server.ts";
import { findExecutable, REQUIRE_ENV, runInSandbox } from "./real_room/sandbox.ts";

const required = Deno.env.get(REQUIRE_ENV) === "1";

// Quiet: after the README's `deno install` nothing is left to download, and on a first run the
// download lines (hundreds) would bury the test output; a failure still shows what deno said.
const install = await new Deno.Command(Deno.execPath(), {
  args: ["install", "--quiet"],
  stdout: "null",
  stderr: "piped",
}).output();
if (!install.success) {
  await Deno.stderr.write(install.stderr);
  console.error("error: `deno install` failed; the npm registry must be reachable once");
  Deno.exit(1);
}

if ("problem" in findServer()) {
  if (findExecutable("go")) {
    try {
      await buildServer();
    } catch (error) {
      console.error(`error: ${error instanceof Error ? error.message : error}`);
      if (required) Deno.exit(1);
    }
  } else if (required) {
    console.error("error: no livekit-server and no Go to build one (REQUIRE_REAL_ROOM=1)");
    Deno.exit(1);
  }
}

Deno.exit(await runInSandbox([Deno.execPath(), "test", "-A", ...Deno.args], { required }));
