/**
 * Operating the worker against a real LiveKit server: SIGTERM during a call, explicit dispatch
 * of a named agent, `connect --room`, and the server dying mid-call. Same set-up as
 * `room_call_test.ts` (see `testing/real_room/real_room.ts`).
 */
import { assert, assertEquals, assertFalse, assertMatch } from "@std/assert";
import { ROOM_RECONNECT_TIMEOUT_MS } from "../core/bounds.ts";
import { isAlive } from "../core/process_tree.ts";
import { type Caller, epochMs } from "../testing/real_room/caller/mod.ts";
import {
  BYE,
  jobFinished,
  jsonLines,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import { until } from "../testing/wait.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";

/**
 * Waits until livekit-server gave up dispatching a job for `caller`'s room (it logs the failed
 * job request, without the room's name: the tests create one room at a time), then checks the
 * room's dispatch holds no job and no agent joined.
 */
async function refusedDispatch(room: RealRoom, caller: Caller, since: number): Promise<void> {
  await room.server.waitForLog(
    (l) => room.server.logs.indexOf(l) >= since && l.msg === "failed to send job request",
    30_000,
    `a failed job request for room ${caller.room}`,
  );
  const dispatches = await room.server.dispatch.listDispatch(caller.room);
  assertEquals(dispatches.flatMap((d) => d.state?.jobs ?? []).length, 0, "a job was created");
  assertFalse(caller.events().some((e) => e.ev === "participant_joined" && e.kind === "AGENT"));
}

realRoomTest(
  "real room: SIGTERM during a call: no new room for the draining worker, the call goes on to its goodbye, then exit 143 with nothing left",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker(["start", "--drain-timeout", "120"]);
    const caller = await room.call();
    await helloExchange(room, caller);

    const tree = worker.descendants();
    worker.signal("SIGTERM");
    await worker.waitForLine(/draining: no new jobs/, 10_000);
    // The draining worker reports itself full: a new room gets no agent.
    const since = room.server.logs.length;
    const other = await room.phones.join(room.server, room.freshRoom("while-draining"));
    await refusedDispatch(room, other, since);

    // The call in progress goes on, to its own end.
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    assertEquals((await sessionEnded(worker, caller.room, 10_000)).end_reason, "end_session");

    const status = await worker.waitForExit(30_000);
    assertEquals(status.code, 143);
    await until(
      () => tree.every((pid) => !isAlive(pid)) || undefined,
      10_000,
      `processes of the worker still alive: ${tree.filter(isAlive)}`,
    );
    await other.hangup();
  },
);

realRoomTest(
  "real room: SIGTERM with a short drain timeout: the call is ended with a goodbye the caller hears, then exit 143",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker(["start", "--drain-timeout", "1"]);
    const caller = await room.call();
    await helloExchange(room, caller);
    const tree = worker.descendants();
    const signalledAt = epochMs();
    worker.signal("SIGTERM");
    await worker.waitForLine(/drain timed out/, 10_000);
    await goodbyeHeard(room, caller, signalledAt);
    const ended = await sessionEnded(worker, caller.room, 30_000);
    assertEquals(ended.goodbye, "played");
    assertEquals((await worker.waitForExit(40_000)).code, 143);
    await until(() => tree.every((pid) => !isAlive(pid)) || undefined, 10_000, "the tree to end");
  },
);

realRoomTest(
  "real room: a named agent gets a job only by explicit dispatch",
  async () => {
    await using room = await RealRoom.start();
    const agentName = "exit-message-test";
    await room.startWorker(["start", "--agent-name", agentName]);
    const since = room.server.logs.length;
    const caller = await room.phones.join(room.server, room.freshRoom("named"));
    // Automatic dispatch looks for a worker without a name, and there is none.
    await refusedDispatch(room, caller, since);

    await room.server.dispatch.createDispatch(caller.room, agentName);
    await caller.waitForAgent(30_000);
    await helloExchange(room, caller);
    await caller.hangup();
  },
);

realRoomTest(
  "real room: connect --room joins an existing room",
  async () => {
    await using room = await RealRoom.start();
    const name = room.freshRoom("existing");
    const caller = await room.phones.join(room.server, name);
    assert((await room.server.roomNames()).includes(name), "the room exists before the agent");
    const worker = await room.startWorker(["connect", "--room", name], {}, {
      waitForRegistration: false,
    });
    await caller.waitForAgent(60_000);
    await helloExchange(room, caller);
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    // connect logs readable lines, not JSON.
    await worker.waitForLine(/session ended: end_session/, 10_000);
  },
);

realRoomTest(
  "real room: the server dies mid-call: the job ends within the reconnect bound with a clear line; the worker re-registers when the server returns",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const caller = await room.call();
    await helloExchange(room, caller);
    const before = worker.lines.length;
    const killedAt = performance.now();
    await room.server.kill();

    const ended = await sessionEnded(worker, caller.room, ROOM_RECONNECT_TIMEOUT_MS + 15_000);
    const endedAfterMs = performance.now() - killedAt;
    assertEquals(ended.end_reason, "room_disconnected");
    assert(ended.goodbye !== "played", "a goodbye was played into a dead room");
    // `before` counts every output line (Deno may print a few that are not JSON).
    const warning = jsonLines(worker, before).find((l) =>
      l.end_reason === "room_disconnected" && l.level === 40
    );
    if (!warning) throw new Error("no warning says why the call ended");
    assertMatch(warning.msg, /LiveKit server|room connection closed/);
    await jobFinished(worker, ended, 15_000);
    console.log(`job ended ${Math.round(endedAfterMs)} ms after the server died: ${warning.msg}`);

    // The worker retries (agents-js's back-off) and registers again when the server is back.
    await room.server.restart();
    await worker.waitForLine(/registered worker/, 60_000, before);
    const next = await room.call();
    await helloExchange(room, next);
    await next.hangup();
  },
);

realRoomTest(
  "real room: the server dies and does not return: after MAX_RETRY the worker exits 1 with a clear line and nothing left",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker(["start", "--max-retry", "1"]);
    const tree = worker.descendants();
    await room.server.kill();
    const status = await worker.waitForExit(60_000);
    assertEquals(status.code, 1);
    assert(
      worker.lines.some((l) => /worker stopped: .*check that the LiveKit server at/.test(l)),
      `no clear final line:\n${worker.tail(10)}`,
    );
    await until(() => tree.every((pid) => !isAlive(pid)) || undefined, 10_000, "the tree to end");
  },
);
