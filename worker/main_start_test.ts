/**
 * The production entry as shipped: `deno run -A main.ts start` (main.ts dispatches to
 * runWorkerCommand with agent.ts) against the stand-in. The real agent's prewarm (Silero VAD) and
 * entry run in a forked job process; the room connection is refused by the stand-in, the job
 * ends, and the worker keeps serving; SIGTERM then exits 143 with no process left.
 */
import { assert, assertEquals } from "@std/assert";
import { WorkerServerStandIn } from "../testing/fakes/worker_server.ts";
import { ROOT, spawnWorker, waitAllDead, workerEnv } from "./testdata/harness.ts";

Deno.test("main.ts start: real agent module, job fails to join the stand-in's room, worker keeps serving, SIGTERM exits 143 clean", async () => {
  const si = await WorkerServerStandIn.start();
  const worker = spawnWorker({
    script: `${ROOT}main.ts`,
    args: ["start", "--port", "0", "--num-idle-processes", "1", "--log-level", "debug"],
    env: workerEnv(si.url, si.credentials.apiSecret, "/dev/null"),
  });
  try {
    const conn = await si.nextWorker(30_000);
    await conn.register();
    const job = conn.offerJob({ roomName: "main-test" });
    assert((await conn.awaitAvailability(job.id, 15_000)).available);
    await conn.assign(job);
    // The call host ran the real prewarm, then the entry, whose room connection failed.
    await worker.waitForLine(/call host prewarmed/, 60_000);
    await worker.waitForLine(/"msg":"job started"/, 30_000);
    // JSON in start, and the app's lines carry the room name (the recipe's log_context_fields).
    const sessionLine = await worker.waitForLine(/"msg":"starting session"/, 30_000);
    assertEquals(JSON.parse(sessionLine).room, "main-test");
    await worker.waitForLine(/401 Unauthorized/, 30_000);
    // The failed job ends in its host before SIGTERM (the idle channel waits for work).
    await worker.waitForLine(/"msg":"job ended in its call host"/, 30_000);
    assert(conn.open, "still registered");
    const job2 = conn.offerJob();
    assert((await conn.awaitAvailability(job2.id, 15_000)).available, "still serving");

    const tree = worker.descendants();
    worker.signal("SIGTERM");
    const status = await worker.waitForExit(60_000);
    assertEquals(status.code, 143);
    await waitAllDead(tree, 5_000);
  } finally {
    await worker.stop();
    await si.close();
  }
});
