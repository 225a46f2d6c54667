/**
 * The job's link to its room: when the LiveKit server goes away mid-call (a restart, a crash, a
 * network cut), the job must not wait on a room nobody can hear. rtc-node reconnects by itself;
 * if it does not get the room back within {@link ROOM_RECONNECT_TIMEOUT_MS}, or gives up first
 * (`Disconnected`), the session ends at once, without a goodbye, with `end_reason`
 * `room_disconnected` and one warning saying why.
 *
 * Without this, agents-js 1.9.0 closes the session on the room's `Disconnected` (about 13 s
 * after the server died) as if the user had asked (`user_initiated`), and tries the goodbye
 * into the dead room.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import { DisconnectReason, RoomEvent } from "@livekit/rtc-node";
import { ROOM_RECONNECT_TIMEOUT_MS } from "./bounds.ts";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => void;

/** The part of an rtc-node `Room` this watcher needs (an EventEmitter in tests). */
export interface RoomLinkLike {
  /** Subscribes to a room event. */
  on(event: RoomEvent, listener: Listener): unknown;
  /** Unsubscribes from a room event. */
  off(event: RoomEvent, listener: Listener): unknown;
}

/**
 * Watches the room link of `session` until it closes. Returns the unsubscribe function (call it
 * once the session closed: the job's own disconnect afterwards is not a lost link).
 */
export function watchRoomLink(
  room: RoomLinkLike,
  session: voice.AgentSession,
  ending: CallEnding,
  reconnectTimeoutMs: number = ROOM_RECONNECT_TIMEOUT_MS,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lostAt: number | undefined;
  let done = false;

  const end = (why: string, fields: Record<string, unknown>) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    log().warn(
      { end_reason: "room_disconnected", ...fields },
      `${why}; ending the session without a goodbye (nobody can hear it)`,
    );
    ending.markRoomLost();
    session.shutdown({ drain: false, reason: voice.CloseReason.PARTICIPANT_DISCONNECTED });
  };
  const onReconnecting = () => {
    if (done || timer !== undefined) return;
    lostAt = performance.now();
    log().warn(
      { timeout_ms: reconnectTimeoutMs },
      `lost the connection to the LiveKit server; reconnecting for up to ${reconnectTimeoutMs} ms`,
    );
    timer = setTimeout(
      () =>
        end(`the LiveKit server did not come back within ${reconnectTimeoutMs} ms`, {
          timeout_ms: reconnectTimeoutMs,
        }),
      reconnectTimeoutMs,
    );
  };
  const onReconnected = () => {
    if (done || timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    log().info(
      { ms: Math.round(performance.now() - (lostAt ?? performance.now())) },
      "reconnected to the LiveKit server; the call goes on",
    );
  };
  const onDisconnected = (reason?: DisconnectReason) => {
    // The job itself left (the forced ending leaves while the stuck session has not closed):
    // not a lost link. Reporting it as one logged a false warning after every forced ending.
    if (reason === DisconnectReason.CLIENT_INITIATED) return;
    // The job hung the call up itself by deleting the room (core/job_end.ts).
    if (reason === DisconnectReason.ROOM_DELETED && ending.hangingUp) return;
    const name = DisconnectReason[reason ?? DisconnectReason.UNKNOWN_REASON] ?? String(reason);
    end(`the room connection closed (${name})`, { disconnect_reason: name });
  };

  room.on(RoomEvent.Reconnecting, onReconnecting);
  room.on(RoomEvent.Reconnected, onReconnected);
  room.on(RoomEvent.Disconnected, onDisconnected);
  return () => {
    done = true;
    clearTimeout(timer);
    room.off(RoomEvent.Reconnecting, onReconnecting);
    room.off(RoomEvent.Reconnected, onReconnected);
    room.off(RoomEvent.Disconnected, onDisconnected);
  };
}
