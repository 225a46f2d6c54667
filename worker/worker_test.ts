/**
 * End-to-end tests of worker mode against the loopback worker-endpoint stand-in. Each test runs
 * the worker as a real child process (`deno run -A worker/testdata/run_worker.ts <command>`, the
 * same `runWorkerCommand` main.ts calls, with a fixture agent), and ends it and its descendants by
 * PID.
 */
import { assert, assertEquals, assertMatch, assertNotMatch } from "@std/assert";
import { WorkerStatus } from "@livekit/protocol";
import {
  closedPort,
  holdOneJob,
  readEvents,
  spawnWorker,
  waitAllDead,
  waitForEvent,
  withStandIn,
  workerEnv,
} from "./testdata/harness.ts";
import { isAlive } from "../core/process_tree.ts";
import { until } from "../testing/wait.ts";

const START = ["start", "--port", "0", "--log-level", "debug"];

Deno.test("start: registers, accepts a job, forks a job process that runs prewarm and entry; the failed room connection ends the job and the worker keeps serving", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    // agents-js's own process per call (the call hosts' version is in call_host/call_host_test.ts).
    const worker = spawn([
      ...START,
      "--num-idle-processes",
      "1",
      "--agent-name",
      "exit-test",
      "--calls-per-process",
      "1",
    ]);
    const conn = await si.nextWorker();
    const reg = await conn.register("AW_test");
    assertEquals(reg.agentName, "exit-test");
    assert(reg.allowedPermissions?.agent, "the worker registers with the agent permission");
    await worker.waitForLine(/registered worker/);

    // The health port answers agents-js's health check once registered, and serves /metrics.
    const portLine = await worker.waitForLine(/health and metrics on port \d+/);
    const port = Number(portLine.match(/port (\d+)/)![1]);
    const health = await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        const body = await res.text();
        return res.status === 200 ? body : undefined;
      },
      10_000,
      "the health check to answer 200",
    );
    assertEquals(health, "OK");
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assertEquals(metrics.status, 200);
    assertMatch(await metrics.text(), /^lk_agents_active_job_count\{nodename="[^"]+"\} 0$/m);

    const job = conn.offerJob({ agentName: "exit-test" });
    const answer = await conn.awaitAvailability(job.id);
    assert(answer.available, "the job offer is accepted");
    await conn.assign(job);

    const entry = await waitForEvent(events, (e) => e.event === "entry" && e.jobId === job.id);
    const evs = readEvents(events);
    assert(
      evs.some((e) => e.event === "prewarm" && e.pid === entry.pid),
      "prewarm ran in the job's process",
    );
    assert(entry.pid !== worker.pid, "the job runs in a forked process");
    const failed = await waitForEvent(events, (e) => e.event === "connect_failed");
    assertMatch(failed.error!, /401/);
    assert(si.rtcAttempts > 0, "the job tried to join the room at the assignment URL");

    // The job process ends by itself and frees its slot.
    await waitAllDead([entry.pid], 15_000);
    await worker.waitForLine(/job exiting|error in entry function/);

    // The worker is still registered and serving: same socket, a new offer is accepted.
    assert(conn.open, "the worker kept its registration");
    const job2 = conn.offerJob({ agentName: "exit-test" });
    assert((await conn.awaitAvailability(job2.id)).available, "a second offer is accepted");
    await conn.assign(job2);
    const entry2 = await waitForEvent(events, (e) => e.event === "entry" && e.jobId === job2.id);
    assert(entry2.pid !== entry.pid, "the second job gets a fresh process");
  });
});

Deno.test("--metrics off: agents-js serves the health port itself, and there is no /metrics", async () => {
  await withStandIn(async ({ si, spawn }) => {
    const worker = spawn([...START, "--num-idle-processes", "0", "--metrics", "off"]);
    await (await si.nextWorker()).register("AW_test");
    await worker.waitForLine(/registered worker/);
    const portLine = await worker.waitForLine(/Server is listening on port \d+/);
    const port = Number(portLine.match(/port (\d+)/)![1]);
    const health = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals([health.status, await health.text()], [200, "OK"]);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assertEquals([metrics.status, await metrics.text()], [404, "not found"]);
    assertNotMatch(worker.output, /health and metrics on port/);
  });
});

Deno.test("termination ends a running job and its process (a process per call)", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    spawn([...START, "--num-idle-processes", "1", "--calls-per-process", "1"]);
    const { conn, job, holding } = await holdOneJob(si, events);

    conn.terminate(job.id);
    await waitForEvent(events, (e) => e.event === "shutdown" && e.jobId === job.id, 15_000);
    await waitAllDead([holding.pid], 15_000);
    assert(conn.open, "the worker stays registered after a termination");
  });
});

Deno.test("SIGTERM drains (a process per call): reports full, rejects new offers, lets the active job finish, exits 143 with no process left", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn([
      ...START,
      "--num-idle-processes",
      "2",
      "--drain-timeout",
      "60",
      "--calls-per-process",
      "1",
    ]);
    const { conn, job } = await holdOneJob(si, events);
    // Wait for the replacement idle processes too, so the snapshot covers the whole tree.
    await waitForEvent(
      events,
      () => readEvents(events).filter((e) => e.event === "prewarmed").length >= 2,
    );
    const tree = worker.descendants();
    assert(tree.length >= 2, `job and idle processes below the worker: ${tree}`);

    worker.signal("SIGTERM");
    await conn.awaitStatus((s) => s.status === WorkerStatus.WS_FULL, 10_000);
    await worker.waitForLine(/draining: no new jobs; waiting up to 60 s for 1 active job/);

    const late = conn.offerJob();
    assertEquals((await conn.awaitAvailability(late.id)).available, false, "draining rejects jobs");
    assert(!worker.lines.some((l) => /worker stopped/.test(l)), "the active job holds the drain");

    // The call ends (the server terminates it): the drain completes well before its 60 s.
    const t0 = performance.now();
    conn.terminate(job.id);
    const status = await worker.waitForExit(20_000);
    assertEquals(status.code, 143);
    assert(performance.now() - t0 < 20_000);
    await waitForEvent(events, (e) => e.event === "shutdown" && e.jobId === job.id);
    await waitAllDead(tree, 5_000);
  });
});

Deno.test("SIGTERM drain waits for the active call even while an idle process is still queued (agents-js's drain would give up at once)", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    // Slow prewarm + 2 idle processes: once the job takes the first warm process, one replacement
    // prewarms and the next waits, unstarted, behind it: agents-js's drain() rejects on that one.
    const worker = spawn([...START, "--num-idle-processes", "2", "--drain-timeout", "60"], {
      FIXTURE_PREWARM_MS: "1500",
      // agents-js's own process per call: the queued idle process is agents-js's pool's.
      CALLS_PER_PROCESS: "1",
    });
    const { conn, job, holding } = await holdOneJob(si, events, 30_000);

    worker.signal("SIGTERM");
    await worker.waitForLine(
      /drain stopped early \(runner not started\); waiting for the active job/,
    );
    assert(isAlive(holding.pid), "the active call was not cut short");
    assert(!readEvents(events).some((e) => e.event === "shutdown"), "the job was not asked to end");

    conn.terminate(job.id);
    assertEquals((await worker.waitForExit(20_000)).code, 143);
    assertNotMatch(worker.output, /drain timed out/);
  });
});

Deno.test("SIGTERM with a job that does not end: the drain timeout ends it, then the worker exits 143 with no process left", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn([...START, "--num-idle-processes", "1", "--drain-timeout", "2"]);
    const { job } = await holdOneJob(si, events);
    const tree = worker.descendants();

    const t0 = performance.now();
    worker.signal("SIGTERM");
    const status = await worker.waitForExit(2_000 + 30_000);
    const took = performance.now() - t0;
    assertEquals(status.code, 143);
    assert(took >= 1_900, `waited for the drain timeout (${took} ms)`);
    await worker.waitForLine(/drain timed out after 2 s with 1 job\(s\) still active; ending them/);
    // The job was asked to end (its shutdown callbacks ran), not just killed.
    await waitForEvent(events, (e) => e.event === "shutdown" && e.jobId === job.id);
    await waitAllDead(tree, 5_000);
  });
});

Deno.test("SIGTERM while idle processes are still prewarming exits within the shutdown grace with no process left", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn(
      [...START, "--num-idle-processes", "2", "--drain-timeout", "5", "--shutdown-grace", "4"],
      { FIXTURE_PREWARM_MS: "60000" },
    );
    const conn = await si.nextWorker();
    await conn.register();
    await waitForEvent(events, (e) => e.event === "prewarm");
    const tree = worker.descendants();

    const t0 = performance.now();
    worker.signal("SIGTERM");
    const status = await worker.waitForExit(5_000 + 4_000 + 5_000);
    assertEquals(status.code, 143);
    assert(performance.now() - t0 < 5_000 + 4_000 + 3_000);
    await waitAllDead(tree, 5_000);
  });
});

Deno.test("SIGTERM during start-up (before the worker registered) is not lost: the worker exits 143 with no process left", async () => {
  await withStandIn(async ({ si, spawn }) => {
    const worker = spawn([...START, "--num-idle-processes", "1", "--shutdown-grace", "20"]);
    // agents-js starts the inference process before the worker; its first log line is the window
    // in which agents-js's own close() is a no-op (its CLI then hangs forever).
    await worker.waitForLine(/initializing inference runner|starting worker/, 30_000);
    const tree = worker.descendants();
    const t0 = performance.now();
    worker.signal("SIGTERM");
    // The worker may still register; answering lets its shutdown proceed like a real server.
    si.nextWorker(10_000).then((c) => c.register()).catch(() => {});
    const status = await worker.waitForExit(25_000);
    assertEquals(status.code, 143);
    assert(performance.now() - t0 < 15_000, "closed once registered, not at the grace deadline");
    await waitAllDead(tree, 5_000);
  });
});

Deno.test("SIGINT twice exits at once with 130 and no process left", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn([...START, "--num-idle-processes", "1", "--drain-timeout", "60"]);
    await holdOneJob(si, events);
    const tree = worker.descendants();

    worker.signal("SIGINT");
    await worker.waitForLine(/SIGINT: draining/);
    const t0 = performance.now();
    worker.signal("SIGINT");
    const status = await worker.waitForExit(5_000);
    assertEquals(status.code, 130);
    assert(performance.now() - t0 < 5_000);
    await worker.waitForLine(/SIGINT received again: exiting now/);
    await waitAllDead(tree, 3_000);
  });
});

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

Deno.test("SIGTERM while retrying an unreachable server exits at once with 143", async () => {
  const events = await Deno.makeTempFile();
  const worker = spawnWorker({
    args: ["start", "--port", "0", "--max-retry", "5"],
    env: workerEnv(`ws://127.0.0.1:${closedPort()}`, "x".repeat(40), events),
  });
  try {
    await worker.waitForLine(/retry 1 of 5 in 1 s/, 15_000);
    worker.signal("SIGTERM");
    assertEquals((await worker.waitForExit(3_000)).code, 143);
    assertNotMatch(worker.output, /retry 2 of 5/);
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

Deno.test("start --simulation does not need the health port (agents-js starts no health server there)", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await withStandIn(async ({ si, spawn }) => {
      const port = String((busy.addr as Deno.NetAddr).port);
      spawn(["start", "--simulation", "--host", "127.0.0.1", "--port", port]);
      const conn = await si.nextWorker(30_000);
      await conn.register();
      assert(conn.open, "the simulation worker did not stay registered");
    });
  } finally {
    busy.close();
  }
});

Deno.test("dev: no idle processes; a job's process forks on assignment", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn(["dev"]);
    const conn = await si.nextWorker();
    await conn.register();
    await worker.waitForLine(/registered worker/);
    assertEquals(readEvents(events).length, 0, "dev keeps no prewarmed process");
    const job = conn.offerJob();
    assert((await conn.awaitAvailability(job.id)).available);
    await conn.assign(job);
    await waitForEvent(events, (e) => e.event === "connect_failed" && e.jobId === job.id);
  });
});

Deno.test("connect --room: creates the room and asks the server for a job in it", async () => {
  await withStandIn(async ({ si, spawn }) => {
    spawn(["connect", "--room", "my-room"]);
    const conn = await si.nextWorker();
    await conn.register();
    const sim = await conn.awaitSimulateJob(20_000);
    assertEquals(sim.room?.name, "my-room");
    assert(si.requests.some((r) => r.path === "/twirp/livekit.RoomService/CreateRoom"));
  });
});
