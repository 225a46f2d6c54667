/**
 * Noticing a user who hung up first: the session then closes without a
 * goodbye, because nobody is left to hear it.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import {
  DisconnectReason,
  ParticipantKind,
  type RemoteParticipant,
  RoomEvent,
} from "@livekit/rtc-node";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";

// The disconnect reasons agents-js's RoomIO treats as "the user left" (room_io.ts).
const HANGUP_REASONS: ReadonlySet<DisconnectReason | undefined> = new Set([
  DisconnectReason.CLIENT_INITIATED,
  DisconnectReason.ROOM_DELETED,
  DisconnectReason.USER_REJECTED,
]);

/** The part of a room the hang-up watcher needs; an rtc-node `Room` satisfies it. */
export interface RoomLike {
  /** Who is still in the room. */
  readonly remoteParticipants: Map<string, RemoteParticipant>;
  /** Subscribes to a room event. */
  on(event: RoomEvent.ParticipantDisconnected, listener: (p: RemoteParticipant) => void): unknown;
  /** Unsubscribes from a room event. */
  off(event: RoomEvent.ParticipantDisconnected, listener: (p: RemoteParticipant) => void): unknown;
}

/**
 * Watches for the user hanging up. When the last non-agent participant leaves
 * for a hang-up reason, the session closes without a goodbye: nobody would
 * hear it, and TTS would be paid for nothing. Returns the unsubscribe function.
 */
export function watchHangup(
  room: RoomLike,
  session: voice.AgentSession,
  ending: CallEnding,
): () => void {
  const onDisconnected = (participant: RemoteParticipant) => {
    if (!HANGUP_REASONS.has(participant.disconnectReason)) return;
    // The agent hung up on them (the room deleted after the goodbye, core/job_end.ts).
    if (ending.hangingUp) return;
    const someoneListens = [...room.remoteParticipants.values()].some(
      (p) => p.identity !== participant.identity && p.info?.kind !== ParticipantKind.AGENT,
    );
    if (someoneListens) return;
    log().info(
      { reason: DisconnectReason[participant.disconnectReason ?? 0] },
      "user hung up; closing the session without a goodbye",
    );
    ending.markUserGone();
    session.shutdown({ drain: false, reason: voice.CloseReason.PARTICIPANT_DISCONNECTED });
  };
  room.on(RoomEvent.ParticipantDisconnected, onDisconnected);
  return () => room.off(RoomEvent.ParticipantDisconnected, onDisconnected);
}
