/**
 * Several workers on one real livekit-server (inside the test sandbox, see
 * `testing/real_room/real_room.ts`): calls spread over them, a rolling deploy that drops no call,
 * and a full fleet. Each worker counts its capacity in calls (`--max-jobs 1`), so where the
 * server may send a call is known: a worker reporting itself full gets none.
 */
import { assert, assertEquals, assertFalse, assertNotEquals } from "@std/assert";
import { type Caller, epochMs } from "../testing/real_room/caller/mod.ts";
import { workerOf } from "../testing/real_room/fleet.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import {
  BYE,
  QUESTION,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import type { WorkerProcess } from "../testing/real_room/worker_process.ts";
import { NOTICE_TOPIC, UNANSWERED_NOTICE } from "../keeper/mod.ts";

/** One call at a time per worker, one idle process, any health port. */
const ONE_CALL = { defaults: ["--port", "0", "--num-idle-processes", "1", "--max-jobs", "1"] };

/** agents-js reports a worker's load every 2.5 s; the server sends a full one no call after that. */
async function reportedFull(worker: WorkerProcess, since: number): Promise<void> {
  await worker.waitForLine(/worker is at full capacity/, 10_000, since);
}

/** A call answered: hello, and the reply heard in full. Returns the worker that took it. */
async function answeredCall(
  room: RealRoom,
  workers: WorkerProcess[],
): Promise<{ caller: Caller; worker: WorkerProcess }> {
  const caller = await room.call();
  await helloExchange(room, caller);
  return { caller, worker: await workerOf(workers, caller.room) };
}

/** Bye, the goodbye heard in full, the room deleted, `end_session` in `worker`'s log. */
async function endedWithGoodbye(room: RealRoom, caller: Caller, worker: WorkerProcess) {
  const bye = await sayHeard(room, caller, BYE);
  await goodbyeHeard(room, caller, bye.endAt);
  const gone = await caller.disconnected(30_000);
  assertEquals(gone.reason, "ROOM_DELETED");
  assertEquals((await sessionEnded(worker, caller.room, 10_000)).end_reason, "end_session");
  return gone;
}

realRoomTest(
  "real room, two workers: calls spread over both; rolling deploy: SIGTERM to one while both hold a call, a new worker registers and takes the next call, the old one finishes its call and exits 143; every goodbye heard",
  async () => {
    await using room = await RealRoom.start();
    const drain = ["start", "--drain-timeout", "120"];
    const a = await room.startWorker(drain, {}, ONE_CALL);
    const b = await room.startWorker(drain, {}, ONE_CALL);
    const first = await answeredCall(room, [a, b]);
    await reportedFull(first.worker, 0);
    const second = await answeredCall(room, [a, b]);
    // The full worker got no call: the server sent it to the other.
    assertNotEquals(second.worker.pid, first.worker.pid);

    // Rolling deploy of the first call's worker.
    const old = first.worker;
    const signalledAt = epochMs();
    old.signal("SIGTERM");
    await old.waitForLine(/draining: no new jobs/, 10_000);
    const fresh = await room.startWorker(drain, {}, ONE_CALL);
    const registeredAt = epochMs();
    await reportedFull(second.worker, 0);
    const third = await answeredCall(room, [a, b, fresh]);
    assertEquals(third.worker.pid, fresh.pid, "the new call did not go to the new worker");
    console.log(
      `SIGTERM -> new worker registered ${Math.round(registeredAt - signalledAt)} ms ` +
        "(the other worker was full: no agent for a call in between)",
    );

    // Every call ends with its goodbye; the old worker exits once its call is done.
    const lastOnOld = await endedWithGoodbye(room, first.caller, old);
    const status = await old.waitForExit(30_000);
    assertEquals(status.code, 143);
    console.log(`old worker exited ${Math.round(epochMs() - lastOnOld.at)} ms after its last call`);
    await endedWithGoodbye(room, second.caller, second.worker);
    await endedWithGoodbye(room, third.caller, fresh);
  },
);

realRoomTest(
  "real room, full fleet: every worker at MAX_JOBS, a new caller gets no agent; the keeper tells it and hangs up after its answer timeout; the calls in progress go on",
  async () => {
    await using room = await RealRoom.start({
      keeper: ["--answer-timeout", "2", "--join-timeout", "2"],
    });
    const a = await room.startWorker(["start"], {}, ONE_CALL);
    const b = await room.startWorker(["start"], {}, ONE_CALL);
    const first = await answeredCall(room, [a, b]);
    await reportedFull(first.worker, 0);
    const second = await answeredCall(room, [a, b]);
    await reportedFull(second.worker, 0);

    const since = room.server.logs.length;
    const waiting = await room.phones.join(room.server, room.freshRoom("full"));
    await room.server.waitForLog(
      (l) => room.server.logs.indexOf(l) >= since && l.msg === "failed to send job request",
      10_000,
      "the refused dispatch",
    );
    const notice = await waiting.waitFor(
      "data",
      20_000,
      (e) => e.topic === NOTICE_TOPIC,
      "the keeper's notice",
    );
    assertEquals(notice.text, UNANSWERED_NOTICE);
    assertEquals((await waiting.disconnected(10_000)).reason, "ROOM_DELETED");
    assertFalse(
      waiting.events().some((e) => e.ev === "participant_joined" && e.kind === "AGENT"),
      "an agent joined the full fleet's new call",
    );
    const joined = waiting.events().find((e) => e.ev === "joined")!;
    console.log(
      `a call to the full fleet was told and hung up after ${Math.round(notice.at - joined.at)} ms`,
    );

    // The calls in progress were not disturbed.
    for (const call of [first, second]) {
      const asked = await sayHeard(room, call.caller, QUESTION);
      await call.caller.heardAfter(asked.endAt, 20_000, "the answer");
      await call.caller.hangup();
    }
  },
);

realRoomTest(
  "real room, a burst of calls inside one load report: each worker takes MAX_JOBS calls and no more, the rest are refused",
  async () => {
    await using room = await RealRoom.start();
    const workers = [
      await room.startWorker(["start"], {}, ONE_CALL),
      await room.startWorker(["start"], {}, ONE_CALL),
    ];
    // Three callers at once: agents-js reports load every 2.5 s, so the server sees no worker
    // full before all three requests are answered; only the workers' own answers hold the limit.
    const callers = await Promise.all(
      [1, 2, 3].map(() => room.phones.join(room.server, room.freshRoom("burst"))),
    );
    await room.server.waitForLog(
      (l) => l.msg === "failed to send job request",
      20_000,
      "the third call refused",
    );
    const answered = await Promise.all(
      callers.map((c) => c.waitForAgent(20_000).then(() => c, () => undefined)),
    );
    const served = answered.filter((c) => c !== undefined);
    assertEquals(served.length, 2, "calls with an agent");
    const by = await Promise.all(served.map((c) => workerOf(workers, c!.room)));
    assertNotEquals(by[0].pid, by[1].pid, "one worker took both calls");
    assert(
      workers.some((w) => w.lines.some((l) => l.includes("refusing a job: 1 of MAX_JOBS=1"))),
      "no worker said why it refused",
    );
    for (const c of callers) await c.hangup().catch(() => {});
  },
);
