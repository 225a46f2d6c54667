/**
 * The job around a session: end the job once the session closed (so the agent
 * leaves the room), hang up the other participants when the agent ended the
 * call, notice a user who hung up first, and make a console process exit.
 *
 * @module
 */
import { type JobContext, voice } from "@livekit/agents";
import {
  DisconnectReason,
  ParticipantKind,
  type RemoteParticipant,
  RoomEvent,
} from "@livekit/rtc-node";
import { CONSOLE_EXIT_GRACE_MS, DELETE_ROOM_TIMEOUT_MS } from "./bounds.ts";
import type { EndCallAction } from "./config.ts";
import { type CallEnding, TIMED_OUT, withTimeout } from "./ending.ts";
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

/** The part of a `JobContext` that ending a job needs. */
export type JobLike = Pick<
  JobContext,
  "shutdown" | "addShutdownCallback" | "deleteRoom" | "isFakeJob"
>;

/**
 * Once the session has closed: logs one line with the end reason, asks the
 * room to be deleted when the agent ended the call (unless `action` is
 * `leave`), and shuts the job down so the agent leaves the room. Returns a
 * promise that settles with the end reason when the session closed.
 */
export function endJobAfterClose(
  ctx: JobLike,
  session: voice.AgentSession,
  ending: CallEnding,
  action: EndCallAction,
): Promise<string> {
  return new Promise((resolve) => {
    session.once(voice.AgentSessionEventTypes.Close, (ev) => {
      const endReason = ending.endReason(String(ev.reason));
      const error = ev.error
        ? String((ev.error as { error?: unknown }).error ?? ev.error)
        : undefined;
      log().info(
        { end_reason: endReason, close_reason: ev.reason, ...(error ? { error } : {}) },
        `session ended: ${endReason}`,
      );
      const agentHungUp = ending.requestedBy === "end_session" && !ending.userGone;
      if (agentHungUp && action === "delete_room" && !ctx.isFakeJob) {
        ctx.addShutdownCallback(() => deleteRoomBounded(ctx));
      }
      if (ctx.isFakeJob) ctx.addShutdownCallback(armConsoleExit);
      ctx.shutdown(endReason);
      resolve(endReason);
    });
  });
}

async function deleteRoomBounded(ctx: JobLike): Promise<void> {
  log().info("deleting the room to hang up every participant (END_CALL_ACTION=delete_room)");
  const result = await withTimeout(ctx.deleteRoom(), DELETE_ROOM_TIMEOUT_MS);
  if (result === TIMED_OUT) {
    log().warn(
      { timeout_ms: DELETE_ROOM_TIMEOUT_MS },
      "the LiveKit API did not delete the room in time; leaving it instead",
    );
  }
}

/**
 * Console mode runs the job in the CLI's own process, and after teardown an
 * rtc-node resampler keeps the event loop alive (known-pitfalls.md). This runs
 * as the last shutdown callback: the remaining teardown (log flush) is given
 * a bounded grace, then the process exits 0, as the session closed cleanly.
 */
async function armConsoleExit(): Promise<void> {
  const timer = setTimeout(() => {
    log().debug("console session finished; exiting");
    Deno.exit(0);
  }, CONSOLE_EXIT_GRACE_MS);
  // Only the lingering resampler should keep us here; never hold the loop ourselves.
  Deno.unrefTimer(timer);
  await Promise.resolve();
}
