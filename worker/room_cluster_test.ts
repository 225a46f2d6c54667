/**
 * The worker on a two-node LiveKit cluster: two livekit-server nodes sharing one Redis (started by
 * the test on loopback), the worker registered through the cluster's address (a failover proxy
 * standing in for its load balancer, `RealRoom.proxy`) on one node, the caller joining through the
 * other. Inside
 * the test sandbox, see `testing/real_room/real_room.ts`.
 */
import { assertEquals, assertFalse } from "@std/assert";
import { epochMs } from "../testing/real_room/caller/mod.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import { BYE, RealRoom, realRoomTest, sessionEnded } from "../testing/real_room/real_room.ts";

realRoomTest(
  "real room, two-node cluster: worker on one node, caller through the other: dispatch, goodbye heard in full, ROOM_DELETED, the room gone from both nodes; the worker's node stops: it registers through the other and the next call is answered",
  async () => {
    await using room = await RealRoom.start({ cluster: 2 });
    const [first, second] = room.nodes;
    // Through the cluster's address (room.proxy), which prefers the first node while it is up.
    const worker = await room.startWorker();
    await first.waitForLog((l) => l.msg === "worker registered", 10_000, "the worker");
    assertFalse(second.logs.some((l) => l.msg === "worker registered"), "registered on node 2");

    const caller = await room.call(undefined, 30_000, second);
    await helloExchange(room, caller);
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    assertEquals((await sessionEnded(worker, caller.room, 10_000)).end_reason, "end_session");
    for (const node of room.nodes) {
      assertFalse((await node.roomNames()).includes(caller.room), `room left on ${node.label}`);
    }

    // The node the worker is registered on stops: it registers again through the other.
    const before = worker.lines.length;
    const stoppedAt = epochMs();
    await first.kill();
    await worker.waitForLine(/registered worker/, 60_000, before);
    await second.waitForLog((l) => l.msg === "worker registered", 10_000, "the worker");
    console.log(
      `worker registered on node 2 ${Math.round(epochMs() - stoppedAt)} ms after node 1 stopped`,
    );
    const next = await room.call(undefined, 30_000, second);
    await helloExchange(room, next);
    await next.hangup();
  },
  { redis: true },
);
