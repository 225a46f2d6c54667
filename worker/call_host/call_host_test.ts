/**
 * Call hosts end to end: the worker as a real child process (`worker/testdata/run_worker.ts`, the
 * fixture agent) against the loopback worker-endpoint stand-in, with its default of several calls
 * per job process. What is shared, what stays each call's own, and what a failure takes with it.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { isAlive } from "../../core/process_tree.ts";
import {
  holdOneJob,
  readEvents,
  waitAllDead,
  waitForEvent,
  withStandIn,
} from "../testdata/harness.ts";

const START = ["start", "--port", "0", "--log-level", "debug", "--num-idle-processes", "1"];

Deno.test("call hosts: two calls run in one process that prewarmed once; ending one leaves the other running", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn(START);
    const a = await holdOneJob(si, events);
    const conn = a.conn;
    const jobB = conn.offerJob({ metadata: "hold" });
    assert((await conn.awaitAvailability(jobB.id)).available);
    await conn.assign(jobB);
    const b = await waitForEvent(events, (e) => e.event === "holding" && e.jobId === jobB.id);
    assertEquals(b.pid, a.holding.pid, "both calls run in the same call host");
    assertNotEquals(b.pid, worker.pid);
    assertEquals(
      readEvents(events).filter((e) => e.event === "prewarm" && e.pid === b.pid).length,
      1,
      "the host prewarmed once for both calls",
    );

    conn.terminate(a.job.id);
    await waitForEvent(events, (e) => e.event === "shutdown" && e.jobId === a.job.id, 15_000);
    await worker.waitForLine(new RegExp(`"jobID":"${a.job.id}".*job ended in its call host`));
    assert(isAlive(b.pid), "the host lives on with the other call");
    assert(
      !readEvents(events).some((e) => e.event === "shutdown" && e.jobId === jobB.id),
      "the other call was not ended",
    );
    conn.terminate(jobB.id);
    await worker.waitForLine(new RegExp(`"jobID":"${jobB.id}".*job ended in its call host`));
  });
});

Deno.test("call hosts: a call whose code throws ends alone; the host and the other call go on", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn(START);
    const a = await holdOneJob(si, events);
    const bad = a.conn.offerJob({ metadata: "throw" });
    assert((await a.conn.awaitAvailability(bad.id)).available);
    await a.conn.assign(bad);
    await waitForEvent(events, (e) => e.event === "throwing" && e.jobId === bad.id);
    await worker.waitForLine(new RegExp(`"jobID":"${bad.id}".*job ended in its call host`));
    assert(isAlive(a.holding.pid), "the host survived the failing call");
    assert(
      !readEvents(events).some((e) => e.event === "shutdown" && e.jobId === a.job.id),
      "the other call was not ended",
    );
    // A next call still lands in the same host.
    const next = a.conn.offerJob({ metadata: "hold" });
    assert((await a.conn.awaitAvailability(next.id)).available);
    await a.conn.assign(next);
    const held = await waitForEvent(events, (e) => e.event === "holding" && e.jobId === next.id);
    assertEquals(held.pid, a.holding.pid);
  });
});

Deno.test("call hosts: a call whose teardown hangs is killed by agents-js's bound; the host gives it up and retires, the next call gets a fresh host", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    // A short grace: agents-js's shutdown bound for a job becomes 1 s (worker/mod.ts).
    const worker = spawn([...START, "--shutdown-grace", "3"]);
    const stuck = await holdOneJob(si, events, 20_000, "stuck");
    const other = stuck.conn.offerJob({ metadata: "hold" });
    assert((await stuck.conn.awaitAvailability(other.id)).available);
    await stuck.conn.assign(other);
    await waitForEvent(events, (e) => e.event === "holding" && e.jobId === other.id);

    stuck.conn.terminate(stuck.job.id);
    await waitForEvent(events, (e) => e.event === "stuck" && e.jobId === stuck.job.id, 15_000);
    await worker.waitForLine(/giving up a call in its call host/, 20_000);
    await worker.waitForLine(/call host retiring: it takes no new call/, 5_000);
    await worker.waitForLine(
      new RegExp(`"jobID":"${stuck.job.id}".*"signal":"SIGKILL".*job ended in its call host`),
      5_000,
    );
    assert(isAlive(stuck.holding.pid), "the other call's host is still up");

    const next = stuck.conn.offerJob({ metadata: "hold" });
    assert((await stuck.conn.awaitAvailability(next.id)).available);
    await stuck.conn.assign(next);
    const held = await waitForEvent(events, (e) => e.event === "holding" && e.jobId === next.id);
    assertNotEquals(held.pid, stuck.holding.pid, "a retired host takes no new call");

    // The retired host exits once its last call ends.
    stuck.conn.terminate(other.id);
    await waitAllDead([stuck.holding.pid], 15_000);
  });
});

Deno.test("call hosts: a host killed mid-call ends its calls; the worker serves the next call from a new host", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn(START);
    const a = await holdOneJob(si, events);
    Deno.kill(a.holding.pid, "SIGKILL");
    await worker.waitForLine(/call host exited with calls in it/, 15_000);
    const next = a.conn.offerJob({ metadata: "hold" });
    assert((await a.conn.awaitAvailability(next.id)).available);
    await a.conn.assign(next);
    const held = await waitForEvent(
      events,
      (e) => e.event === "holding" && e.jobId === next.id,
      30_000,
    );
    assertNotEquals(held.pid, a.holding.pid);
  });
});

Deno.test("call hosts: SIGTERM drains the active call, then the worker exits 143 with no process left", async () => {
  await withStandIn(async ({ si, events, spawn }) => {
    const worker = spawn([...START, "--drain-timeout", "60"]);
    const { conn, job } = await holdOneJob(si, events);
    const tree = worker.descendants();
    assert(tree.length >= 1, `a call host below the worker: ${tree}`);
    worker.signal("SIGTERM");
    await worker.waitForLine(/draining: no new jobs; waiting up to 60 s for 1 active job/);
    conn.terminate(job.id);
    const status = await worker.waitForExit(20_000);
    assertEquals(status.code, 143);
    await waitForEvent(events, (e) => e.event === "shutdown" && e.jobId === job.id);
    await waitAllDead(tree, 5_000);
  });
});
