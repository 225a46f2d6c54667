import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  decodeWav,
  encodeWav,
  readWavFile,
  resampleLinear,
  rms,
  WavError,
  wavHeader,
  WavWriter,
} from "./wav.ts";

function withFormat(bytes: Uint8Array, format: number, bits?: number): Uint8Array {
  const b = bytes.slice();
  const v = new DataView(b.buffer);
  v.setUint16(20, format, true);
  if (bits) v.setUint16(34, bits, true);
  return b;
}

Deno.test("wav: 16-bit mono round-trips", () => {
  const s = Int16Array.from([0, 1000, -1000, 32767, -32768]);
  const d = decodeWav(encodeWav(s, 22050));
  assertEquals(d.sampleRate, 22050);
  assertEquals([...d.samples], [...s]);
});

Deno.test("wav: stereo is averaged to mono", () => {
  const frames = Int16Array.from([100, 300, -200, -400]);
  const bytes = new Uint8Array(44 + frames.byteLength);
  bytes.set(wavHeader(8000, 2, frames.byteLength));
  bytes.set(new Uint8Array(frames.buffer), 44);
  const d = decodeWav(bytes);
  assertEquals(d.sourceChannels, 2);
  assertEquals([...d.samples], [200, -300]);
});

Deno.test("wav: 8-bit and 24-bit PCM are read", () => {
  const h8 = wavHeader(8000, 1, 2);
  new DataView(h8.buffer).setUint16(34, 8, true);
  const b8 = new Uint8Array([...h8, 128, 255]);
  assertEquals([...decodeWav(b8).samples], [0, 127 << 8]);
  const h24 = wavHeader(8000, 1, 3);
  new DataView(h24.buffer).setUint16(34, 24, true);
  const b24 = new Uint8Array([...h24, 0x00, 0x00, 0x80]); // -2^23
  assertEquals([...decodeWav(b24).samples], [-32768]);
});

Deno.test("wav: non-PCM and non-WAV input fail with one clear sentence", () => {
  const good = encodeWav(new Int16Array(10), 16000);
  const e1 = assertThrows(() => decodeWav(withFormat(good, 3, 32), "x.wav"), WavError);
  assert(e1.message.startsWith("x.wav is not PCM"), e1.message);
  const e2 = assertThrows(
    () => decodeWav(new TextEncoder().encode("ID3 mp3 data here"), "y.mp3"),
    WavError,
  );
  assertEquals(e2.message, "y.mp3 is not a WAV file (no RIFF/WAVE header)");
  const e3 = assertThrows(() => decodeWav(good.subarray(0, 36), "z.wav"), WavError);
  assert(e3.message.includes("no data chunk"), e3.message);
});

Deno.test("wav: a missing file is a WavError, not a stack trace", async () => {
  const e = await assertRejects(() => readWavFile("/nonexistent/in.wav"), WavError);
  assertEquals(e.message, "/nonexistent/in.wav: no such file");
});

Deno.test("wav: the streaming writer patches sizes on close", async () => {
  const path = await Deno.makeTempFile({ suffix: ".wav" });
  try {
    const w = WavWriter.create(path, 48000);
    w.write(new Int16Array(480).fill(5));
    w.write(new Int16Array(960).fill(-5));
    assertAlmostEquals(w.seconds, 0.03, 1e-9);
    w.close();
    w.close(); // idempotent
    const d = await readWavFile(path);
    assertEquals(d.sampleRate, 48000);
    assertEquals(d.samples.length, 1440);
    const raw = await Deno.readFile(path);
    assertEquals(new DataView(raw.buffer).getUint32(4, true), 36 + 2880);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("wav: linear resampling keeps duration and shape", () => {
  const src = new Int16Array(16000).map((_, i) =>
    Math.round(10000 * Math.sin(2 * Math.PI * 200 * i / 16000))
  );
  const up = resampleLinear(src, 16000, 48000);
  assertEquals(up.length, 48000);
  assertAlmostEquals(rms(up), rms(src), 0.01);
  const down = resampleLinear(up, 48000, 44100);
  assertEquals(down.length, 44100);
  assertEquals(resampleLinear(src, 16000, 16000).length, src.length);
  assertEquals(rms(new Int16Array(100)), 0);
});

/** RIFF/WAVE around the given chunks (each `[id, body]`), sizes as declared unless overridden. */
function riff(chunks: [string, Uint8Array, number?][]): Uint8Array {
  const parts: number[] = [];
  for (const [id, body, declared] of chunks) {
    const size = declared ?? body.length;
    parts.push(...[...id].map((c) => c.charCodeAt(0)));
    parts.push(size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff, (size >>> 24) & 0xff);
    parts.push(...body);
    if (body.length & 1) parts.push(0);
  }
  const out = new Uint8Array(12 + parts.length);
  out.set([..."RIFF"].map((c) => c.charCodeAt(0)), 0);
  new DataView(out.buffer).setUint32(4, 4 + parts.length, true);
  out.set([..."WAVE"].map((c) => c.charCodeAt(0)), 8);
  out.set(parts, 12);
  return out;
}

const FMT_16K_MONO = wavHeader(16000, 1, 0).slice(20, 36);

Deno.test("wav: a file cut short inside its fmt chunk is a WavError naming the truncation", () => {
  const good = encodeWav(new Int16Array(100), 16000);
  for (const cut of [24, 30, 35]) {
    const e = assertThrows(() => decodeWav(good.subarray(0, cut), "cut.wav"), WavError);
    assertEquals(e.message, "cut.wav is truncated (its fmt chunk is cut short); re-export it");
  }
  const short = riff([["fmt ", FMT_16K_MONO.subarray(0, 14)], ["data", new Uint8Array(4)]]);
  const e = assertThrows(() => decodeWav(short, "s.wav"), WavError);
  assertEquals(e.message, "s.wav has a fmt chunk of 14 bytes (at least 16 expected); re-export it");
});

Deno.test("wav: an empty data chunk is an error, never the bytes of the chunks after it", () => {
  const list = new TextEncoder().encode("INFOISFT\x0e\x00\x00\x00Lavf58.76.100\x00");
  const cases = [
    riff([["fmt ", FMT_16K_MONO], ["data", new Uint8Array(0)], ["LIST", list]]),
    riff([["fmt ", FMT_16K_MONO], ["data", new Uint8Array(0)]]),
    riff([["fmt ", FMT_16K_MONO], ["data", new Uint8Array(1)]]), // less than one sample
  ];
  for (const bytes of cases) {
    const e = assertThrows(() => decodeWav(bytes, "e.wav"), WavError);
    assertEquals(e.message, "e.wav holds no audio (its data chunk is empty)");
  }
});

Deno.test("wav: a data chunk whose size was never written (0 or 0xFFFFFFFF) runs to the end", () => {
  const audio = new Uint8Array(new Int16Array([1200, -1200, 800]).buffer);
  for (const declared of [0, 0xffffffff]) {
    const d = decodeWav(riff([["fmt ", FMT_16K_MONO], ["data", audio, declared]]));
    assertEquals([...d.samples], [1200, -1200, 800]);
  }
});
