import { assert, assertEquals, assertThrows } from "@std/assert";
import { AgentSession as pb } from "@livekit/protocol";
import {
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  HEADER_BYTES,
  MAX_FRAME_BYTES,
} from "./framing.ts";

function sample(): pb.AgentSessionMessage[] {
  return [
    new pb.AgentSessionMessage({
      message: {
        case: "audioPlaybackFlush",
        value: new pb.AgentSessionMessage_ConsoleIO_AudioPlaybackFlush(),
      },
    }),
    new pb.AgentSessionMessage({
      message: {
        case: "request",
        value: new pb.SessionRequest({
          requestId: "req_1",
          request: { case: "runInput", value: new pb.SessionRequest_RunInput({ text: "héllo" }) },
        }),
      },
    }),
    new pb.AgentSessionMessage({
      message: {
        case: "audioOutput",
        value: new pb.AgentSessionMessage_ConsoleIO_AudioFrame({
          data: new Uint8Array(960).map((_, i) => i & 0xff),
          sampleRate: 48000,
          numChannels: 1,
          samplesPerChannel: 480,
        }),
      },
    }),
  ];
}

Deno.test("framing: header is a big-endian u32 length", () => {
  const f = encodeFrame(new Uint8Array(0x0102));
  assertEquals(f.length, HEADER_BYTES + 0x0102);
  assertEquals([...f.subarray(0, 4)], [0, 0, 1, 2]);
});

Deno.test("framing: messages round-trip when fed in one chunk", () => {
  const msgs = sample();
  const wire = new Uint8Array(msgs.reduce((n, m) => n + encodeMessage(m).length, 0));
  let off = 0;
  for (const m of msgs) {
    const f = encodeMessage(m);
    wire.set(f, off);
    off += f.length;
  }
  const out = new FrameDecoder().pushMessages(wire);
  assertEquals(out.length, msgs.length);
  for (let i = 0; i < msgs.length; i++) assert(msgs[i].equals(out[i]), `message ${i} differs`);
});

Deno.test("framing: any split point (one byte at a time) yields the same messages", () => {
  const msgs = sample();
  const wire = msgs.flatMap((m) => [...encodeMessage(m)]);
  const dec = new FrameDecoder();
  const out: pb.AgentSessionMessage[] = [];
  for (const b of wire) out.push(...dec.pushMessages(new Uint8Array([b])));
  assertEquals(out.length, msgs.length);
  assertEquals(dec.pending, 0);
  assert(msgs[2].equals(out[2]));
});

Deno.test("framing: an empty payload is a valid frame (an empty message)", () => {
  const dec = new FrameDecoder();
  const out = dec.push(new Uint8Array([0, 0, 0, 0]));
  assertEquals(out.length, 1);
  assertEquals(out[0].length, 0);
});

Deno.test("framing: frames over 1 MiB are refused both ways", () => {
  assertThrows(() => encodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1)), FrameTooLargeError);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  assertThrows(() => new FrameDecoder().push(header), FrameTooLargeError);
  // Exactly 1 MiB is allowed.
  const max = encodeFrame(new Uint8Array(MAX_FRAME_BYTES));
  assertEquals(new FrameDecoder().push(max)[0].length, MAX_FRAME_BYTES);
});

Deno.test("framing: a partial frame survives the caller reusing its read buffer", () => {
  const msg = sample()[2];
  const wire = encodeMessage(msg);
  const readBuf = new Uint8Array(wire.length);
  const dec = new FrameDecoder();
  // Read 1: first half; read 2 reuses (overwrites) the same buffer with the rest.
  readBuf.set(wire.subarray(0, 100));
  assertEquals(dec.pushMessages(readBuf.subarray(0, 100)).length, 0);
  readBuf.fill(0xee);
  readBuf.set(wire.subarray(100));
  const out = dec.pushMessages(readBuf.subarray(0, wire.length - 100));
  assertEquals(out.length, 1);
  assert(msg.equals(out[0]));
});
