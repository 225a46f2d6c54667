import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLess,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { AgentSession as pb } from "@livekit/protocol";
import { BrokerListenError, BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "./broker.ts";
import { encodeMessage, FrameDecoder } from "./framing.ts";
import { Playout } from "./playout.ts";
import { decodeWav, WavWriter } from "./wav.ts";
import { until } from "../testing/wait.ts";

/** The agent's end of the socket, speaking the same framing as agents-js. */
class FakeAgent {
  readonly received: pb.AgentSessionMessage[] = [];
  #waiters: {
    pred: (m: pb.AgentSessionMessage) => boolean;
    resolve: (m: pb.AgentSessionMessage) => void;
  }[] = [];
  readonly done: Promise<void>;
  constructor(readonly conn: Deno.Conn) {
    this.done = this.#read();
  }
  async #read() {
    const dec = new FrameDecoder();
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const m of dec.pushMessages(buf.subarray(0, n))) {
          this.received.push(m);
          this.#waiters = this.#waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
        }
      }
    } catch {
      // closed
    }
  }
  next(
    pred: (m: pb.AgentSessionMessage) => boolean,
    ms: number,
  ): Promise<pb.AgentSessionMessage | undefined> {
    const hit = this.received.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const w = { pred, resolve: (m: pb.AgentSessionMessage) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve(undefined);
      }, ms);
      this.#waiters.push(w);
    });
  }
  async send(message: pb.AgentSessionMessage["message"]) {
    const b = encodeMessage(new pb.AgentSessionMessage({ message }));
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }
  audio(ms: number, amp = 8000) {
    const n = Math.round(WIRE_SAMPLE_RATE * ms / 1000);
    const s = new Int16Array(n).map((_, i) => Math.round(amp * Math.sin(i / 10)));
    return this.send({
      case: "audioOutput",
      value: new pb.AgentSessionMessage_ConsoleIO_AudioFrame({
        data: new Uint8Array(s.buffer),
        sampleRate: WIRE_SAMPLE_RATE,
        numChannels: 1,
        samplesPerChannel: n,
      }),
    });
  }
  flush() {
    return this.send({
      case: "audioPlaybackFlush",
      value: new pb.AgentSessionMessage_ConsoleIO_AudioPlaybackFlush(),
    });
  }
}

function asRequest(m: pb.AgentSessionMessage | undefined): pb.SessionRequest {
  const r = m?.message.case === "request" ? m.message.value : undefined;
  if (!r) throw new Error("no request received");
  return r;
}

const isAck = (m: pb.AgentSessionMessage) => m.message.case === "audioPlaybackFinished";

async function pair(recorder?: WavWriter) {
  const listener = listenBroker(0);
  const port = (listener.addr as Deno.NetAddr).port;
  const [server, client] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port }),
  ]);
  listener.close();
  const playout = new Playout({
    sampleRate: WIRE_SAMPLE_RATE,
    recorders: recorder ? [recorder] : [],
  });
  const events: pb.AgentSessionEvent[] = [];
  const broker = new BrokerSession(server, playout, { onEvent: (e) => events.push(e) });
  const agent = new FakeAgent(client);
  const close = async () => {
    await broker.close();
    try {
      client.close();
    } catch {
      // closed by the broker's side already
    }
    await agent.done;
    await playout.close();
  };
  return { broker, agent, playout, events, close, port };
}

Deno.test("broker: a flush is acknowledged only after its audio's real-time duration", async () => {
  const { broker, agent, close } = await pair();
  try {
    const t0 = performance.now();
    await agent.audio(200);
    await agent.audio(200);
    await agent.flush();
    const ack = await agent.next(isAck, 3000);
    const dt = performance.now() - t0;
    assert(ack, "no audio_playback_finished");
    assertGreaterOrEqual(dt, 380);
    assertLess(dt, 1200);
    assertEquals(broker.stats.flushes, 1);
    assertEquals(broker.stats.acks, 1);
  } finally {
    await close();
  }
});

Deno.test("broker: a flush with nothing queued is acknowledged at once", async () => {
  const { agent, close } = await pair();
  try {
    const t0 = performance.now();
    await agent.flush();
    assert(await agent.next(isAck, 1000));
    assertLess(performance.now() - t0, 300);
  } finally {
    await close();
  }
});

Deno.test("broker: audio_playback_clear drops the audio and cancels the pending ack", async () => {
  const path = await Deno.makeTempFile({ suffix: ".wav" });
  const rec = WavWriter.create(path, WIRE_SAMPLE_RATE);
  const { broker, agent, playout, close } = await pair(rec);
  try {
    await agent.audio(2000);
    await agent.flush();
    // The clear must land while the utterance plays: once the broker took the flush and some
    // of the audio has played (the recording below then holds about that much of it).
    await until(
      () => (broker.stats.flushes === 1 && playout.playedSeconds >= 0.15) || undefined,
      5_000,
      "the broker to take the flush and play 150 ms of the utterance",
    );
    assert(playout.playing, "the utterance finished before the clear: nothing to test");
    await agent.send({
      case: "audioPlaybackClear",
      value: new pb.AgentSessionMessage_ConsoleIO_AudioPlaybackClear(),
    });
    const stale = await agent.next(isAck, 2500);
    assertEquals(stale, undefined, "a cleared flush must not be acked");
    assertEquals(broker.stats.clears, 1);
    assertEquals(playout.playing, false);
    // A later utterance is acknowledged normally.
    await agent.audio(100);
    await agent.flush();
    assert(await agent.next(isAck, 2000));
  } finally {
    await close();
    rec.close();
    const played = decodeWav(await Deno.readFile(path)).samples.length / WIRE_SAMPLE_RATE;
    await Deno.remove(path);
    // ~150 ms of the cleared 2 s utterance + the 100 ms one.
    assert(played > 0.15 && played < 0.6, `recorded ${played} s`);
  }
});

Deno.test("broker: requests are matched to responses by id; an error rejects", async () => {
  const { broker, agent, close } = await pair();
  try {
    const pending = broker.runInput("hello", 5000);
    const req = asRequest(await agent.next((m) => m.message.case === "request", 2000));
    assertEquals(req.request.case, "runInput");
    await agent.send({
      case: "response",
      value: new pb.SessionResponse({
        requestId: req.requestId,
        response: { case: "runInput", value: new pb.SessionResponse_RunInputResponse() },
      }),
    });
    assertEquals((await pending).requestId, req.requestId);

    const failing = broker.updateIo({ audioIn: false, audioOut: true });
    const req2 = asRequest(
      await agent.next(
        (m) => m.message.case === "request" && m.message.value.request.case === "updateIo",
        2000,
      ),
    );
    const io = req2.request.value as pb.SessionRequest_UpdateIO;
    assertEquals(io.input?.audioEnabled, false);
    assertEquals(io.output?.audioEnabled, true);
    assertEquals(io.output?.transcriptionEnabled, false);
    await agent.send({
      case: "response",
      value: new pb.SessionResponse({ requestId: req2.requestId, error: "nope" }),
    });
    await assertRejects(() => failing, Error, "nope");
  } finally {
    await close();
  }
});

Deno.test("broker: events are delivered; mic frames are 48 kHz mono s16le", async () => {
  const { broker, agent, events, close } = await pair();
  try {
    await agent.send({
      case: "event",
      value: new pb.AgentSessionEvent({
        event: {
          case: "agentStateChanged",
          value: new pb.AgentSessionEvent_AgentStateChanged({
            newState: pb.AgentState.AS_LISTENING,
          }),
        },
      }),
    });
    await broker.firstMessage;
    assertEquals(events.length, 1);
    await broker.sendMic(new Int16Array(1440).fill(7));
    const m = await agent.next((x) => x.message.case === "audioInput", 2000);
    const frame = m?.message.case === "audioInput" ? m.message.value : undefined;
    if (!frame) throw new Error("no audio_input frame");
    assertEquals(frame.sampleRate, 48000);
    assertEquals(frame.numChannels, 1);
    assertEquals(frame.samplesPerChannel, 1440);
    assertEquals(frame.data.length, 2880);
  } finally {
    await close();
  }
});

Deno.test("broker: the agent closing the socket ends the session and rejects pending requests", async () => {
  const { broker, agent, close } = await pair();
  try {
    const pending = broker.runInput("hi", 10_000);
    await agent.next((m) => m.message.case === "request", 2000);
    agent.conn.close();
    await broker.closed;
    assert(broker.isClosed);
    await assertRejects(() => pending, Error, "closed");
  } finally {
    await close();
  }
});

Deno.test("broker: a port in use is one clear error", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const e = assertThrows(() => listenBroker(port), BrokerListenError);
    assertEquals(
      e.message,
      `port ${port} on 127.0.0.1 is already in use; free it or pick another with --port (or omit --port)`,
    );
  } finally {
    taken.close();
  }
});
