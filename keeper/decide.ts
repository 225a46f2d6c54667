/**
 * What the call keeper makes of a webhook and of a room: which events mean a call may be left
 * without an agent, and whether a room needs one now. Pure: events and participant lists in,
 * decisions out, so every rule is unit-tested without a server.
 *
 * A call is a room with a caller (a standard or SIP participant). It needs an agent when no
 * agent is in it: because its agent was lost (it left without leaving on purpose: the server
 * timed it out), or because none ever came (every worker was full when the room was created;
 * the server dispatches once, at creation, and never again).
 *
 * @module
 */
import {
  DisconnectReason,
  type ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  type WebhookEvent,
} from "@livekit/protocol";

/**
 * Ways an agent leaves a room that it did not choose: the server timed it out or its connection
 * broke. An agent ending a call leaves with `CLIENT_INITIATED` or goes with the room
 * (`ROOM_DELETED`); an operator's removal (`PARTICIPANT_REMOVED`) and a server shutting down
 * (`SERVER_SHUTDOWN`) are decisions too, and are left alone.
 */
export const LOST_REASONS: ReadonlySet<DisconnectReason> = new Set([
  DisconnectReason.CONNECTION_TIMEOUT,
  DisconnectReason.SIGNAL_CLOSE,
  DisconnectReason.STATE_MISMATCH,
  DisconnectReason.JOIN_FAILURE,
]);

/** Participant kinds that are callers: people, on an app or on the phone. */
const CALLER_KINDS: ReadonlySet<ParticipantInfo_Kind> = new Set([
  ParticipantInfo_Kind.STANDARD,
  ParticipantInfo_Kind.SIP,
]);

/** The attribute agents-js gives its agent participant: the name it was dispatched under. */
export const AGENT_NAME_ATTRIBUTE = "lk.agent.name";

/** An agent that left a call without ending it. */
export interface LostAgent {
  room: string;
  identity: string;
  /** The name it was dispatched under (empty: automatic dispatch), so its replacement matches. */
  agentName: string;
  /** The server's disconnect reason, by name (e.g. `CONNECTION_TIMEOUT`). */
  reason: string;
}

/** A caller that joined a room: the keeper checks later that an agent came. */
export interface NewCaller {
  room: string;
  identity: string;
}

/** The agent a `participant_left` event reports lost, if it is one. */
export function lostAgent(event: WebhookEvent): LostAgent | undefined {
  const p = event.participant;
  const room = event.room?.name;
  if (event.event !== "participant_left" || !p || !room) return undefined;
  if (p.kind !== ParticipantInfo_Kind.AGENT || !LOST_REASONS.has(p.disconnectReason)) {
    return undefined;
  }
  return {
    room,
    identity: p.identity,
    agentName: p.attributes[AGENT_NAME_ATTRIBUTE] ?? "",
    reason: DisconnectReason[p.disconnectReason] ?? String(p.disconnectReason),
  };
}

/** The caller a `participant_joined` event reports, if it is one. */
export function newCaller(event: WebhookEvent): NewCaller | undefined {
  const p = event.participant;
  const room = event.room?.name;
  if (event.event !== "participant_joined" || !p || !room || !CALLER_KINDS.has(p.kind)) {
    return undefined;
  }
  return { room, identity: p.identity };
}

/** Whether a room needs an agent now, and why not when it does not. */
export type RoomNeed = { need: "agent" } | { need: "nothing"; why: string };

/**
 * Looks at who is in a room: it needs an agent when a caller is there and no agent (other than
 * `lostIdentity`, which the server may still list for a moment after reporting it gone).
 */
export function roomNeed(
  participants: readonly ParticipantInfo[],
  lostIdentity?: string,
): RoomNeed {
  const present = participants.filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED);
  if (!present.some((p) => CALLER_KINDS.has(p.kind))) {
    return { need: "nothing", why: "no caller is left in the room" };
  }
  const agent = present.find((p) =>
    p.kind === ParticipantInfo_Kind.AGENT && p.identity !== lostIdentity
  );
  if (agent) return { need: "nothing", why: `agent ${agent.identity} is in the room` };
  return { need: "agent" };
}

/** An agent in the room other than `lostIdentity`: the one the keeper dispatched, once it joined. */
export function joinedAgent(
  participants: readonly ParticipantInfo[],
  lostIdentity?: string,
): ParticipantInfo | undefined {
  return participants.find((p) =>
    p.kind === ParticipantInfo_Kind.AGENT && p.identity !== lostIdentity &&
    p.state !== ParticipantInfo_State.DISCONNECTED
  );
}
