import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import {
  AvailabilityResponse,
  JobType,
  RegisterWorkerRequest,
  ServerMessage,
  UpdateWorkerStatus,
  WorkerMessage,
  WorkerStatus,
} from "@livekit/protocol";
import { signToken, verifyToken, WorkerServerStandIn } from "./worker_server.ts";

/** A bare-bones worker client: what agents-js does on the wire, nothing more. */
async function connectWorker(si: WorkerServerStandIn, secret = si.credentials.apiSecret) {
  const now = Math.floor(Date.now() / 1000);
  const token = await signToken({ iss: "devkey", exp: now + 60, video: { agent: true } }, secret);
  const ws = new WebSocket(`${si.url}/agent`, { headers: { authorization: `Bearer ${token}` } });
  ws.binaryType = "arraybuffer";
  const inbox: ServerMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.onmessage = (ev) => {
    inbox.push(ServerMessage.fromBinary(new Uint8Array(ev.data as ArrayBuffer)));
    waiters.splice(0).forEach((w) => w());
  };
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("worker socket failed to open"));
  });
  return {
    send: (m: WorkerMessage["message"]) => ws.send(new WorkerMessage({ message: m }).toBinary()),
    async next(): Promise<ServerMessage> {
      while (inbox.length === 0) await new Promise<void>((r) => waiters.push(r));
      return inbox.shift()!;
    },
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

Deno.test("stand-in: register, offer, availability, assignment to itself, termination, status", async () => {
  const si = await WorkerServerStandIn.start();
  const client = await connectWorker(si);
  try {
    client.send({
      case: "register",
      value: new RegisterWorkerRequest({ agentName: "a", type: JobType.JT_ROOM }),
    });
    const conn = await si.nextWorker(5_000);
    const register = conn.register("AW_1");
    assertEquals((await register).agentName, "a");
    const reg = await client.next();
    if (reg.message.case !== "register") {
      throw new Error(`expected register, got ${reg.message.case}`);
    }
    assertEquals(reg.message.value.workerId, "AW_1");

    const job = conn.offerJob({ roomName: "r", metadata: "hold" });
    const offer = await client.next();
    assertEquals(offer.message.case, "availability");
    client.send({
      case: "availability",
      value: new AvailabilityResponse({ jobId: job.id, available: true, participantIdentity: "x" }),
    });
    assertEquals((await conn.awaitAvailability(job.id, 5_000)).participantIdentity, "x");

    await conn.assign(job);
    const asg = await client.next();
    if (asg.message.case !== "assignment") throw new Error(`got ${asg.message.case}`);
    assertEquals(asg.message.value.url, si.url);
    assertEquals(asg.message.value.job?.metadata, "hold");
    const claims = await verifyToken(asg.message.value.token, si.credentials.apiSecret);
    assert(claims.ok && (claims.claims.video as { room: string }).room === "r");

    conn.terminate(job.id);
    const term = await client.next();
    if (term.message.case !== "termination") throw new Error(`got ${term.message.case}`);
    assertEquals(term.message.value.jobId, job.id);

    client.send({
      case: "updateWorker",
      value: new UpdateWorkerStatus({ status: WorkerStatus.WS_FULL, load: 1 }),
    });
    assertEquals((await conn.awaitStatus((s) => s.status === WorkerStatus.WS_FULL, 5_000)).load, 1);
    await assertRejects(() => conn.next("migrateJob", { timeoutMs: 50 }), Error, "timed out");
  } finally {
    await client.close();
    await si.close();
  }
});

Deno.test("stand-in: refuses bad tokens like livekit-server, and room joins always", async () => {
  const si = await WorkerServerStandIn.start();
  const refusing = await WorkerServerStandIn.start({
    refuseWorkers: { status: 401, body: "nope" },
  });
  try {
    const noAuth = await fetch(`${si.url.replace("ws", "http")}/agent`);
    assertEquals([noAuth.status, await noAuth.text()], [401, "no authorization header"]);
    await assertRejects(() => connectWorker(si, "wrong-secret-0123456789abcdef0123"));
    const rtc = await fetch(`${si.url.replace("ws", "http")}/rtc/v1`);
    assertEquals(rtc.status, 401);
    await rtc.body?.cancel();
    const forced = await fetch(`${refusing.url.replace("ws", "http")}/agent`);
    assertEquals([forced.status, await forced.text()], [401, "nope"]);
    const room = await fetch(
      `${si.url.replace("ws", "http")}/twirp/livekit.RoomService/CreateRoom`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "my-room" }),
      },
    );
    assertMatch(await room.text(), /"name":"my-room"/);
    assertEquals(si.rtcAttempts, 1);
  } finally {
    await si.close();
    await refusing.close();
  }
});

Deno.test("stand-in: close() is idempotent, closes open workers and ends pending waits", async () => {
  const si = await WorkerServerStandIn.start();
  const client = await connectWorker(si);
  client.send({ case: "register", value: new RegisterWorkerRequest() });
  const conn = await si.nextWorker(5_000);
  const pending = assertRejects(() => si.nextWorker(5_000), Error, "stand-in closed");
  await Promise.all([si.close(), si.close()]);
  await pending;
  assert(!conn.open);
  await client.close();
});
