/**
 * End-to-end tests of worker mode serving jobs: registration, the health port and /metrics, offers
 * and job processes, a job ended by the server, and the `start --simulation`, `dev` and `connect`
 * modes. Shutdown is in worker_shutdown_test.ts, failures in worker_failures_test.ts.
 *
 * Each test runs the worker as a real child process (`deno run -A worker/testdata/run_worker.ts
 * <command>`, the same `runWorkerCommand` main.ts calls, with a fixture agent) against the loopback
 * worker-endpoint stand-in, and ends it and its descendants by PID.
 */
import { assert, assertEquals, assertMatch, assertNotMatch } from "@std/assert";
import {
  holdOneJob,
  readEvents,
  waitAllDead,
  waitForEvent,
  withStandIn,
} from "./testdata/harness.ts";
import { START } from "./testdata/start_args.ts";
import { until } from "../testing/wait.ts";

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
