/**
 * The call keeper against the real livekit-server, real workers and a real caller (inside the
 * test sandbox, see `testing/real_room/real_room.ts`): a call whose worker is killed outright is
 * taken over by a surviving worker; with no worker left, the caller is told and hung up.
 */
import { assert, assertEquals, assertLess } from "@std/assert";
import { RESUME_TEXT } from "../core/resume.ts";
import {
  KEEPER_JOIN_TIMEOUT_MS,
  KEEPER_POLL_INTERVAL_MS,
  SERVER_AGENT_TIMEOUT_MS,
} from "../core/bounds.ts";
import { isAlive } from "../core/process_tree.ts";
import { epochMs } from "../testing/real_room/caller/mod.ts";
import { currentAgent, replacementReady, workerOf } from "../testing/real_room/fleet.ts";
import {
  goodbyeHeard,
  heardInFull,
  helloExchange,
  sayHeard,
} from "../testing/real_room/room_checks.ts";
import {
  BYE,
  jsonLines,
  QUESTION,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import { until } from "../testing/wait.ts";
import { LOST_NOTICE, NOTICE_TOPIC } from "./mod.ts";

/** The resume line's first sentence, as the simulation synthesizes it (one sentence at a time). */
const RESUME_FIRST_SENTENCE = RESUME_TEXT.slice(0, RESUME_TEXT.indexOf(".") + 1);

/**
 * Allowance for what happens around the bounds in this test: the webhook's trip, the caller's
 * own view of the departure, a loaded 2-core machine. The bounds themselves are the server's
 * timeout and the keeper's join timeout, which it enforces by hanging up.
 */
const SLACK_MS = 5_000;

realRoomTest(
  "real room: a worker SIGKILLed mid-call: a surviving worker takes the call over, says it lost the thread, answers, and bye still ends it with the goodbye heard and the room deleted",
  async () => {
    await using room = await RealRoom.start({ keeper: [] });
    const workers = [await room.startWorker(), await room.startWorker()];
    const caller = await room.call();
    await helloExchange(room, caller);
    const lost = currentAgent(caller)!;
    const dead = await workerOf(workers, caller.room);
    const survivor = workers.find((w) => w !== dead)!;

    const crashedAt = epochMs();
    const killed = dead.crash();
    const gone = await caller.waitFor(
      "participant_left",
      SERVER_AGENT_TIMEOUT_MS + SLACK_MS,
      (e) => e.identity === lost,
      `the dead agent ${lost} to be timed out`,
    );
    const joined = await replacementReady(caller, lost, KEEPER_JOIN_TIMEOUT_MS + SLACK_MS);
    // It says it lost the thread, at once and in full.
    const resumed = await heardInFull(caller, RESUME_FIRST_SENTENCE, joined.at);
    console.log(
      `crash -> dead agent gone ${Math.round(gone.at - crashedAt)} ms, ` +
        `-> replacement joined ${Math.round(joined.at - crashedAt)} ms, ` +
        `-> "${RESUME_FIRST_SENTENCE}" heard from ${Math.round(resumed.startAt - crashedAt)} ms`,
    );
    assertLess(
      joined.at - crashedAt,
      SERVER_AGENT_TIMEOUT_MS + KEEPER_JOIN_TIMEOUT_MS + SLACK_MS,
    );
    // The replacement runs on the surviving worker, as a resume of the lost agent's call.
    assert(
      jsonLines(survivor).some((l) =>
        l.room === caller.room && l.resumes === lost && /taking over a call/.test(l.msg)
      ),
      `the survivor logged no take-over of ${lost}:\n${survivor.tail(20)}`,
    );

    // It answers, and bye ends the call as usual.
    const asked = await sayHeard(room, caller, QUESTION);
    await caller.heardAfter(asked.endAt, 20_000, "the answer to the question");
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    assertEquals((await sessionEnded(survivor, caller.room, 10_000)).end_reason, "end_session");
    await room.keeper!.waitForLine(/joined room .* after the dispatch \(replacement\)/, 5_000);
    assert(killed.every((pid) => !isAlive(pid)), "a process of the crashed worker survived");
  },
);

realRoomTest(
  "real room: the only worker SIGKILLed mid-call: the caller is told and hung up, never left in silence",
  async () => {
    // A short join bound: nothing can join here, and the test need not wait the default.
    const joinTimeoutS = 2;
    await using room = await RealRoom.start({ keeper: ["--join-timeout", String(joinTimeoutS)] });
    const worker = await room.startWorker();
    const caller = await room.call();
    await helloExchange(room, caller);
    const lost = currentAgent(caller)!;
    const crashedAt = epochMs();
    worker.crash();
    const gone = await caller.waitFor(
      "participant_left",
      SERVER_AGENT_TIMEOUT_MS + SLACK_MS,
      (e) => e.identity === lost,
    );
    const notice = await caller.waitFor(
      "data",
      joinTimeoutS * 1000 + SLACK_MS,
      (e) => e.topic === NOTICE_TOPIC,
      "the keeper's notice",
    );
    assertEquals(notice.text, LOST_NOTICE);
    const hungUp = await caller.disconnected(10_000);
    assertEquals(hungUp.reason, "ROOM_DELETED");
    console.log(
      `crash -> agent gone ${Math.round(gone.at - crashedAt)} ms -> caller told ${
        Math.round(notice.at - crashedAt)
      } ms -> hung up ${Math.round(hungUp.at - crashedAt)} ms`,
    );
    assertLess(notice.at - gone.at, joinTimeoutS * 1000 + KEEPER_POLL_INTERVAL_MS + SLACK_MS);
    await until(
      async () => !(await room.server.roomNames()).includes(caller.room) || undefined,
      5_000,
      "the room to be gone",
    );
    await room.keeper!.waitForLine(/told the caller and deleted room/, 5_000);
  },
);
