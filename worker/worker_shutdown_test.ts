/**
 * End-to-end tests of the worker's shutdown: SIGTERM's drain (with and without an active job,
 * with idle processes prewarming, before registration, while retrying a server) and SIGINT twice,
 * each ending with no process left.
 *
 * Each test runs the worker as a real child process (`deno run -A worker/testdata/run_worker.ts
 * <command>`, the same `runWorkerCommand` main.ts calls, with a fixture agent) against the loopback
 * worker-endpoint stand-in, and ends it and its descendants by PID.
 */
import { assert, assertEquals, assertNotMatch } from "@std/assert";
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
import { START } from "./testdata/start_args.ts";
import { isAlive } from "../core/process_tree.ts";

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
