import { assertEquals } from "@std/assert";
import {
  DisconnectReason,
  ParticipantInfo,
  ParticipantInfo_Kind as Kind,
  ParticipantInfo_State as State,
  Room,
  WebhookEvent,
} from "@livekit/protocol";
import { AGENT_NAME_ATTRIBUTE, joinedAgent, lostAgent, newCaller, roomNeed } from "./decide.ts";

const participant = (
  identity: string,
  kind: Kind,
  extra: Partial<ParticipantInfo> = {},
) => new ParticipantInfo({ identity, kind, state: State.ACTIVE, ...extra });

const event = (name: string, p: ParticipantInfo, room = "call-1") =>
  new WebhookEvent({ event: name, room: new Room({ name: room }), participant: p });

const agent = (identity: string, reason: DisconnectReason, name = "") =>
  participant(identity, Kind.AGENT, {
    disconnectReason: reason,
    attributes: { [AGENT_NAME_ATTRIBUTE]: name },
  });

Deno.test("decide: an agent the server timed out is lost, under its own agent name", () => {
  assertEquals(
    lostAgent(
      event("participant_left", agent("agent-AJ_1", DisconnectReason.CONNECTION_TIMEOUT, "named")),
    ),
    { room: "call-1", identity: "agent-AJ_1", agentName: "named", reason: "CONNECTION_TIMEOUT" },
  );
  for (const r of [DisconnectReason.SIGNAL_CLOSE, DisconnectReason.STATE_MISMATCH]) {
    assertEquals(lostAgent(event("participant_left", agent("a", r)))?.agentName, "");
  }
});

Deno.test("decide: an agent that left on purpose, a caller, and other events are not lost agents", () => {
  for (
    const r of [
      DisconnectReason.CLIENT_INITIATED,
      DisconnectReason.ROOM_DELETED,
      DisconnectReason.PARTICIPANT_REMOVED,
      DisconnectReason.SERVER_SHUTDOWN,
    ]
  ) {
    assertEquals(lostAgent(event("participant_left", agent("a", r))), undefined, `reason ${r}`);
  }
  const caller = participant("c", Kind.STANDARD, {
    disconnectReason: DisconnectReason.CONNECTION_TIMEOUT,
  });
  assertEquals(lostAgent(event("participant_left", caller)), undefined);
  assertEquals(
    lostAgent(event("participant_joined", agent("a", DisconnectReason.CONNECTION_TIMEOUT))),
    undefined,
  );
});

Deno.test("decide: a standard or SIP participant joining is a caller; an agent or egress is not", () => {
  assertEquals(newCaller(event("participant_joined", participant("c", Kind.STANDARD))), {
    room: "call-1",
    identity: "c",
  });
  assertEquals(newCaller(event("participant_joined", participant("p", Kind.SIP)))?.identity, "p");
  assertEquals(newCaller(event("participant_joined", participant("a", Kind.AGENT))), undefined);
  assertEquals(newCaller(event("participant_joined", participant("e", Kind.EGRESS))), undefined);
  assertEquals(newCaller(event("participant_left", participant("c", Kind.STANDARD))), undefined);
});

Deno.test("decide: a room needs an agent when a caller is there and no agent but the lost one", () => {
  const caller = participant("c", Kind.STANDARD);
  const lost = participant("agent-old", Kind.AGENT);
  assertEquals(roomNeed([caller]), { need: "agent" });
  assertEquals(roomNeed([caller, lost], "agent-old"), { need: "agent" });
  assertEquals(roomNeed([caller, lost]).need, "nothing");
  assertEquals(roomNeed([caller, participant("agent-new", Kind.AGENT)], "agent-old"), {
    need: "nothing",
    why: "agent agent-new is in the room",
  });
  assertEquals(roomNeed([lost], "agent-old"), {
    need: "nothing",
    why: "no caller is left in the room",
  });
  const gone = participant("c", Kind.STANDARD, { state: State.DISCONNECTED });
  assertEquals(roomNeed([gone]).need, "nothing");
  assertEquals(roomNeed([participant("e", Kind.EGRESS)]).need, "nothing");
});

Deno.test("decide: the agent that joined is any agent but the lost one", () => {
  const caller = participant("c", Kind.STANDARD);
  assertEquals(joinedAgent([caller, participant("agent-old", Kind.AGENT)], "agent-old"), undefined);
  assertEquals(
    joinedAgent([caller, participant("agent-new", Kind.AGENT)], "agent-old")?.identity,
    "agent-new",
  );
});
