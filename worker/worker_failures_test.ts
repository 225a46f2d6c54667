/**
 * End-to-end tests of how the worker fails: an unreachable or unresolvable server, rejected
 * credentials, a server lost after registration, and bad configuration, each said in one clear
 * line with the right exit status.
 *
 * Each test runs the worker as a real child process (`deno run -A worker/testdata/run_worker.ts
 * <command>`, the same `runWorkerCommand` main.ts calls, with a fixture agent) against the loopback
 * worker-endpoint stand-in, and ends it and its descendants by PID.
 */
import { assert, assertEquals, assertMatch, assertNotMatch } from "@std/assert";
import { closedPort, spawnWorker, withStandIn, workerEnv } from "./testdata/harness.ts";
import { START } from "./testdata/start_args.ts";

Deno.test("unreachable server (connection refused): URL and cause at once, visible retries, a clear final error, exit 1", async () => {
  const url = `ws://127.0.0.1:${closedPort()}`;
  const events = await Deno.makeTempFile();
  const worker = spawnWorker({
    args: ["start", "--port", "0", "--max-retry", "2"],
    env: workerEnv(url, "x".repeat(40), events),
  });
  try {
    const first = await worker.waitForLine(/cannot connect to LiveKit server/, 15_000);
    const firstAfter = performance.now() - worker.startedAt;
    assert(firstAfter < 5_000, `the cause is shown within a few seconds (${firstAfter} ms)`);
    assertMatch(
      first,
      new RegExp(`${url}/: tried ${url}/agent: connection refused.*retry 1 of 2 in 1 s`),
    );
    // Beside the JSON log, one plain line for the person who started it: what was tried, the
    // retries ahead and how to change them.
    // On stderr, which may come a moment after the JSON line on stdout.
    await worker.waitForLine(/^warning: cannot connect/, 5_000);
    const plain = worker.output.split("\n").filter((l) => l.startsWith("warning: cannot connect"));
    assertEquals(plain.length, 1, worker.output);
    assertMatch(
      plain[0],
      new RegExp(
        `^warning: cannot connect to LiveKit server at ${url}/: tried ${url}/agent: connection refused .*; ` +
          "retry 1 of 2 in 1 s, 2 retries over 3 s in all, then exit 1 \\(--max-retry or MAX_RETRY",
      ),
    );
    await worker.waitForLine(/retry 2 of 2 in 2 s/, 10_000);
    const status = await worker.waitForExit(15_000);
    assertEquals(status.code, 1);
    assertMatch(
      worker.output,
      new RegExp(`giving up on LiveKit server at ${url}/ after 3 attempts: connection refused`),
    );
    assertNotMatch(worker.output, /\n\s+at /, "no stack trace");
  } finally {
    await worker.stop();
    await Deno.remove(events);
  }
});

Deno.test("unresolvable host: the DNS failure is named, exit 1", async () => {
  const events = await Deno.makeTempFile();
  const worker = spawnWorker({
    args: ["start", "--port", "0", "--max-retry", "0"],
    env: workerEnv("wss://no-such-host.invalid", "x".repeat(40), events),
  });
  try {
    const status = await worker.waitForExit(30_000);
    assertEquals(status.code, 1);
    assertMatch(
      worker.output,
      /giving up on LiveKit server at wss:\/\/no-such-host\.invalid\/ after 1 attempts: DNS lookup of \\?"no-such-host\.invalid\\?" failed/,
    );
  } finally {
    await worker.stop();
    await Deno.remove(events);
  }
});

Deno.test("auth rejected: one clear line with the URL and the 401, no retries, exit 1", async () => {
  await withStandIn(async ({ si, spawn }) => {
    const worker = spawn(["start", "--port", "0", "--max-retry", "5"], {
      LIVEKIT_API_SECRET: "not-the-secret-the-server-has-0123456789",
    });
    const status = await worker.waitForExit(20_000);
    assertEquals(status.code, 1);
    assertMatch(
      worker.output,
      new RegExp(
        `LiveKit server at ${si.url}/ rejected the worker: credentials rejected \\(HTTP 401: invalid token signature\\); check LIVEKIT_API_KEY and LIVEKIT_API_SECRET`,
      ),
    );
    assertNotMatch(worker.output, /retry 1/, "a rejected key is not retried");
    assertEquals(si.requests.filter((r) => r.path === "/agent").length, 1);
  });
});

Deno.test("server lost after registration: agents-js's retries are visible, then a clear final error and exit 1", async () => {
  await withStandIn(async ({ si, spawn }) => {
    const worker = spawn([...START, "--num-idle-processes", "0", "--max-retry", "1"]);
    const conn = await si.nextWorker();
    await conn.register();
    await worker.waitForLine(/registered worker/);
    await si.close();
    await worker.waitForLine(/failed to connect to LiveKit server.*retrying in 2 seconds/, 10_000);
    const status = await worker.waitForExit(20_000);
    assertEquals(status.code, 1);
    assertMatch(
      worker.output,
      new RegExp(
        `worker stopped: failed to connect to LiveKit server \\(${si.url}/\\) after 1 attempts`,
      ),
    );
  });
});

Deno.test("bad configuration: one line naming the variable or flag, exit 2, no stack trace", async () => {
  const events = await Deno.makeTempFile();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busyPort = (busy.addr as Deno.NetAddr).port;
  const ok = workerEnv("ws://127.0.0.1:7880", "x".repeat(40), events);
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ["no URL in start", ["start"], { ...ok, LIVEKIT_URL: "" }, /^error: LIVEKIT_URL is not set/],
    ["no key", ["start"], { ...ok, LIVEKIT_API_KEY: "" }, /^error: LIVEKIT_API_KEY is not set/],
    [
      "no secret",
      ["dev"],
      { ...ok, LIVEKIT_API_SECRET: "" },
      /^error: LIVEKIT_API_SECRET is not set/,
    ],
    [
      "URL without scheme",
      ["start"],
      { ...ok, LIVEKIT_URL: "localhost:7880" },
      /^error: LIVEKIT_URL="localhost:7880" is not a LiveKit URL/,
    ],
    [
      "quoted secret",
      ["start"],
      { ...ok, LIVEKIT_API_SECRET: '"abc"' },
      /^error: LIVEKIT_API_SECRET contains spaces or quotes/,
    ],
    [
      "bad drain timeout",
      ["start", "--drain-timeout", "soon"],
      ok,
      /^error: --drain-timeout="soon" is not valid/,
    ],
    [
      "bad load threshold",
      ["start"],
      { ...ok, LOAD_THRESHOLD: "70" },
      /^error: LOAD_THRESHOLD="70" is not valid/,
    ],
    [
      "unknown flag",
      ["start", "--verbose"],
      ok,
      /^error: unknown option --verbose \(see deno task start --help\)$/,
    ],
    [
      "mistyped flag",
      ["dev", "--drain-timout", "5"],
      ok,
      /^error: unknown option --drain-timout; did you mean --drain-timeout\? \(see deno task dev --help\)$/,
    ],
    ["empty --api-key=", ["start", "--api-key="], ok, /^error: --api-key is empty; /],
    ["connect without room", ["connect"], ok, /^error: connect needs --room NAME/],
    [
      "health port in use",
      ["start", "--host", "127.0.0.1", "--port", String(busyPort)],
      ok,
      new RegExp(`^error: health port ${busyPort} on 127.0.0.1 is already in use`),
    ],
  ];
  try {
    // One after another: concurrent `deno run`s contend for node_modules' lock, and Deno then
    // prints "Blocking waiting for file lock" on the very stderr this test reads.
    for (const [name, args, env, expected] of cases) {
      const worker = spawnWorker({ args, env });
      try {
        const status = await worker.waitForExit(30_000);
        assertEquals(status.code, 2, `${name}: exit code; output:\n${worker.output}`);
        const lines = worker.lines.filter((l) => l.trim() !== "");
        assertEquals(lines.length, 1, `${name}: exactly one line; got:\n${worker.output}`);
        assertMatch(lines[0]!, expected, name);
      } finally {
        await worker.stop();
      }
    }
  } finally {
    busy.close();
    await Deno.remove(events);
  }
});
