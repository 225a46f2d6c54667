/**
 * One agent per call: when a second agent of the same name is in the room, one of the two leaves,
 * quietly, and the caller keeps hearing one voice.
 *
 * How two get there (measured on a two-node cluster, see docs/scaling.md): the node hosting a
 * room stops; the caller's client and the agent's both reconnect through the surviving node, which
 * recreates the room, and the recreated room's automatic dispatch sends a second agent. Both then
 * hear the caller and both answer every turn, over each other.
 *
 * Which one leaves, decided by each agent alone from what it sees of the other (no coordination):
 * the one that has not served the caller yet (no user turn) leaves to the one that has; between
 * two alike, the one whose identity sorts last leaves. Whether an agent has served is published as
 * its participant attribute {@link SERVED_ATTRIBUTE} (set again after a reconnect, which may drop
 * attributes). The leaving agent says nothing, does not end the call and does not delete the room.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import { ParticipantKind, type RemoteParticipant, RoomEvent } from "@livekit/rtc-node";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";

/** The participant attribute an agent sets once it has served the caller (a user turn). */
export const SERVED_ATTRIBUTE = "exit_message.served";

/** The attribute agents-js gives its agent participant: the name it was dispatched under. */
const AGENT_NAME_ATTRIBUTE = "lk.agent.name";

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => void;

/** The part of an rtc-node `Room` the guard needs. */
export interface OneAgentRoom {
  /** Who else is in the room. */
  readonly remoteParticipants: Map<string, RemoteParticipant>;
  /** This agent (once connected). */
  readonly localParticipant?: {
    readonly identity: string;
    readonly attributes: Record<string, string>;
    setAttributes(attributes: Record<string, string>): Promise<void>;
  };
  /** Subscribes to a room event. */
  on(event: RoomEvent, listener: Listener): unknown;
  /** Unsubscribes from a room event. */
  off(event: RoomEvent, listener: Listener): unknown;
}

/** What an agent knows of itself or sees of another, for {@link shouldLeave}. */
export interface AgentView {
  /** Its participant identity. */
  identity: string;
  /** It has served the caller (a user turn). */
  served: boolean;
}

/** Whether `me` leaves the call to `other` (the rule in the module header). */
export function shouldLeave(me: AgentView, other: AgentView): boolean {
  if (me.served !== other.served) return other.served;
  return me.identity > other.identity;
}

/**
 * Guards `session` against a second agent of the same name in `room` until the session closes.
 * Returns the unsubscribe function.
 */
export function watchOtherAgents(
  room: OneAgentRoom,
  session: voice.AgentSession,
  ending: CallEnding,
): () => void {
  const me = room.localParticipant;
  if (!me) return () => {};
  const myName = me.attributes[AGENT_NAME_ATTRIBUTE] ?? "";
  let served = false;
  let done = false;

  const publishServed = () => {
    if (!served || done) return;
    me.setAttributes({ [SERVED_ATTRIBUTE]: "1" }).catch((error: unknown) => {
      log().debug({ error: String(error) }, "could not publish the served attribute");
    });
  };
  const check = () => {
    if (done || ending.isStarted) return;
    for (const p of room.remoteParticipants.values()) {
      if (p.info?.kind !== ParticipantKind.AGENT) continue;
      if ((p.attributes[AGENT_NAME_ATTRIBUTE] ?? "") !== myName) continue;
      const other = { identity: p.identity, served: p.attributes[SERVED_ATTRIBUTE] === "1" };
      if (!shouldLeave({ identity: me.identity, served }, other)) continue;
      done = true;
      log().warn(
        { other_agent: other.identity, other_served: other.served, served },
        `another agent (${other.identity}) is in this call; leaving it to that one, without a word`,
      );
      ending.markYielded();
      session.shutdown({ drain: false, reason: voice.CloseReason.PARTICIPANT_DISCONNECTED });
      return;
    }
  };
  const onItem = (ev: voice.ConversationItemAddedEvent) => {
    if (served || ev.item.type !== "message" || ev.item.role !== "user") return;
    served = true;
    publishServed();
  };
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, onItem);
  room.on(RoomEvent.ParticipantConnected, check);
  room.on(RoomEvent.ParticipantAttributesChanged, check);
  room.on(RoomEvent.Reconnected, publishServed);
  check();
  return () => {
    done = true;
    session.off(voice.AgentSessionEventTypes.ConversationItemAdded, onItem);
    room.off(RoomEvent.ParticipantConnected, check);
    room.off(RoomEvent.ParticipantAttributesChanged, check);
    room.off(RoomEvent.Reconnected, publishServed);
  };
}
