import { assert, assertEquals } from "@std/assert";
import { EventEmitter } from "node:events";
import type { voice } from "@livekit/agents";
import { DisconnectReason, RoomEvent } from "@livekit/rtc-node";
import { CallEnding } from "./ending.ts";
import { watchRoomLink } from "./room_link.ts";
import { captureLogs } from "../testing/log_capture.ts";
import { until } from "../testing/wait.ts";

function fakeSession() {
  const shutdowns: { drain?: boolean }[] = [];
  const session = {
    shutdown: (opts: { drain?: boolean }) => shutdowns.push(opts),
  } as unknown as voice.AgentSession;
  return { session, shutdowns };
}

Deno.test("room link: a Disconnected mid-call ends the session at once, no goodbye, room_disconnected", () => {
  using logs = captureLogs();
  const room = new EventEmitter();
  const ending = new CallEnding();
  const { session, shutdowns } = fakeSession();
  const unwatch = watchRoomLink(room, session, ending, 60_000);
  room.emit(RoomEvent.Disconnected, DisconnectReason.SIGNAL_CLOSE);
  assertEquals(shutdowns, [{ drain: false, reason: "participant_disconnected" }]);
  assertEquals(ending.endReason("user_initiated"), "room_disconnected");
  assertEquals(ending.userGone, true, "the goodbye must be skipped");
  const warn = logs.lines.find((l) => l.end_reason === "room_disconnected");
  assertEquals(warn?.disconnect_reason, "SIGNAL_CLOSE");
  room.emit(RoomEvent.Disconnected, DisconnectReason.SIGNAL_CLOSE);
  assertEquals(shutdowns.length, 1, "ends once");
  unwatch();
});

Deno.test("room link: the job's own leaving (CLIENT_INITIATED, the forced ending) is not a lost link: no warning, the ending untouched", () => {
  using logs = captureLogs();
  const room = new EventEmitter();
  const ending = new CallEnding();
  ending.request("end_session");
  const { session, shutdowns } = fakeSession();
  const unwatch = watchRoomLink(room, session, ending, 60_000);
  room.emit(RoomEvent.Disconnected, DisconnectReason.CLIENT_INITIATED);
  assertEquals(shutdowns, []);
  assertEquals(ending.endReason("user_initiated"), "end_session");
  assertEquals(logs.lines.filter((l) => l.level >= 40), []);
  unwatch();
});

Deno.test("room link: reconnecting past the bound ends the session; the bound is the code's own", async () => {
  using _logs = captureLogs();
  const room = new EventEmitter();
  const ending = new CallEnding();
  const { session, shutdowns } = fakeSession();
  const unwatch = watchRoomLink(room, session, ending, 50);
  room.emit(RoomEvent.Reconnecting);
  await until(
    () => shutdowns.length > 0 || undefined,
    5_000,
    "the reconnect bound to end the session",
  );
  assertEquals(ending.endReason("user_initiated"), "room_disconnected");
  unwatch();
});

Deno.test("room link: reconnected in time: the call goes on, and the bound restarts with the next loss", async () => {
  using logs = captureLogs();
  const room = new EventEmitter();
  const ending = new CallEnding();
  const { session, shutdowns } = fakeSession();
  const boundMs = 300;
  const unwatch = watchRoomLink(room, session, ending, boundMs);
  room.emit(RoomEvent.Reconnecting);
  room.emit(RoomEvent.Reconnected);
  assertEquals(shutdowns.length, 0);
  assertEquals(ending.isStarted, false);
  assert(logs.lines.some((l) => /reconnected/.test(l.msg)));
  // The link drops again a while later: the bound counts from this second loss, so a timer
  // left over from the first one would end the call early.
  await new Promise((resolve) => setTimeout(resolve, boundMs / 2));
  const secondLoss = performance.now();
  room.emit(RoomEvent.Reconnecting);
  await until(() => shutdowns.length > 0 || undefined, 5_000, "the second loss to end the call");
  const waited = performance.now() - secondLoss;
  assert(waited >= boundMs - 20, `ended ${Math.round(waited)} ms after the second loss`);
  unwatch();
});

Deno.test("room link: after unwatch (session closed), the job's own disconnect is not a lost room", () => {
  const room = new EventEmitter();
  const ending = new CallEnding();
  const { session, shutdowns } = fakeSession();
  const unwatch = watchRoomLink(room, session, ending, 60_000);
  unwatch();
  room.emit(RoomEvent.Disconnected, DisconnectReason.CLIENT_INITIATED);
  assertEquals(shutdowns.length, 0);
  assertEquals(room.listenerCount(RoomEvent.Disconnected), 0);
});
