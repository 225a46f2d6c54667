/**
 * One agent per call (`core/one_agent.ts`) in a real room: a second agent of the same name
 * dispatched into a call leaves it without a word, and the caller hears one answer per turn. (How
 * a second agent gets there in production: a cluster node's loss, see docs/scaling.md.)
 */
import { assertEquals } from "@std/assert";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import {
  BYE,
  jsonLines,
  QUESTION,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import { currentAgent } from "../testing/real_room/fleet.ts";

realRoomTest(
  "real room: a second agent in a call leaves it without a word (to the one that served, or by identity between two new ones); one answer per turn; bye still ends the call",
  async () => {
    await using room = await RealRoom.start();
    const name = "exit-message-one";
    const worker = await room.startWorker(["start", "--agent-name", name]);
    const caller = await room.phones.join(room.server, room.freshRoom("twice"));

    // Two new agents at once: the one whose identity sorts last leaves.
    await room.server.dispatch.createDispatch(caller.room, name);
    await room.server.dispatch.createDispatch(caller.room, name);
    const left = await caller.waitFor("participant_left", 30_000, () => true, "one agent to leave");
    const joined = caller.events().filter((e) => e.ev === "participant_joined");
    assertEquals(joined.length, 2, JSON.stringify(joined));
    const identities = joined.map((e) => e.ev === "participant_joined" ? e.identity : "").sort();
    assertEquals(left.identity, identities[1]);
    const stayed = identities[0];
    assertEquals((await sessionEnded(worker, caller.room, 10_000)).end_reason, "duplicate_agent");

    // The one that stayed serves the call...
    await caller.waitForAgent(10_000);
    await helloExchange(room, caller);
    assertEquals(currentAgent(caller), stayed);

    // ...and a third, new one, leaves it to the one that served, though its identity sorts first.
    await room.server.dispatch.createDispatch(caller.room, name);
    const third = await caller.waitFor(
      "participant_joined",
      30_000,
      (e) => e.kind === "AGENT" && !identities.includes(e.identity),
      "a third agent",
    );
    await caller.waitFor("participant_left", 30_000, (e) => e.identity === third.identity);
    // One answer per turn: the LLM was asked once for the question (by the time its answer has
    // been heard, a second agent's request would have been made too).
    const since = room.gateway.log.length;
    const asked = await sayHeard(room, caller, QUESTION);
    await caller.heardAfter(asked.endAt, 20_000, "the answer");
    const requests = room.gateway.log.slice(since).filter((e) => e.kind === "llm_request").length;
    assertEquals(requests, 1, "LLM requests for one question");
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    const yielded = jsonLines(worker).filter((l) => l.msg === "session ended: duplicate_agent");
    assertEquals(yielded.length, 2, "two agents left the call to another");
  },
);
