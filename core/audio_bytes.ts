/**
 * A linear-time `AudioByteStream.write` for agents-js 1.9.0.
 *
 * Why: agents-js's `AudioByteStream` (the STT socket's 50 ms chunker, fed every 10 ms frame of
 * the caller's audio, and the TTS socket's 100 ms framer, fed every audio message) appends with
 * `new Int8Array([...this.#buf, ...bytes])`: every byte, buffered and new, goes through a JS
 * array on every write. In a profile of a talking call that was a tenth of the job's JS thread.
 * This keeps the same frames (same sizes, rates, channels, sample counts, the same warning on an
 * incomplete flush) with typed-array copies. The class keeps its state in `#private` fields, so
 * the override keeps its own buffer per instance; the frame size, rate and channels are read
 * once per instance from what the original `write` returns for a probe of silence, which the
 * original `flush` then discards, before any real audio enters it.
 *
 * Upstream change that makes this unnecessary: `write` appending with `set()` (agents-js
 * `src/audio.ts`).
 *
 * @module
 */
import { AudioByteStream, log } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";

interface State {
  bytesPerFrame: number;
  sampleRate: number;
  channels: number;
  buf: Uint8Array;
  len: number;
}

type Write = (this: AudioByteStream, data: ArrayBufferLike | ArrayBufferView) => AudioFrame[];
type Flush = (this: AudioByteStream) => AudioFrame[];

/** agents-js's own methods, as they were before {@link installLinearAudioByteStream}. */
export const originalAudioByteStream: { write: Write; flush: Flush } = {
  write: AudioByteStream.prototype.write,
  flush: AudioByteStream.prototype.flush,
};

const states = new WeakMap<AudioByteStream, State | null>();
// Frames of up to 100 ms at 48 kHz, 8 channels, fit in the last probe.
const PROBE_BYTES = [4096, 65_536, 1 << 20];

function probe(stream: AudioByteStream): State | null {
  for (const size of PROBE_BYTES) {
    const frames = originalAudioByteStream.write.call(stream, new Uint8Array(size));
    if (frames.length === 0) continue;
    originalAudioByteStream.flush.call(stream);
    const f = frames[0];
    return {
      bytesPerFrame: f.data.byteLength,
      sampleRate: f.sampleRate,
      channels: f.channels,
      buf: new Uint8Array(Math.max(f.data.byteLength * 2, 4096)),
      len: 0,
    };
  }
  originalAudioByteStream.flush.call(stream);
  return null; // never seen a frame: leave this instance to the original
}

function stateOf(stream: AudioByteStream): State | null {
  let s = states.get(stream);
  if (s === undefined) {
    s = probe(stream);
    states.set(stream, s);
  }
  return s;
}

function write(this: AudioByteStream, data: ArrayBufferLike | ArrayBufferView): AudioFrame[] {
  const s = stateOf(this);
  if (!s) return originalAudioByteStream.write.call(this, data);
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  if (s.len + bytes.length > s.buf.length) {
    const grown = new Uint8Array(Math.max(s.buf.length * 2, s.len + bytes.length));
    grown.set(s.buf.subarray(0, s.len));
    s.buf = grown;
  }
  s.buf.set(bytes, s.len);
  s.len += bytes.length;
  const frames: AudioFrame[] = [];
  let off = 0;
  while (s.len - off >= s.bytesPerFrame) {
    const frame = new Int16Array(s.bytesPerFrame / 2);
    new Uint8Array(frame.buffer).set(s.buf.subarray(off, off + s.bytesPerFrame));
    frames.push(new AudioFrame(frame, s.sampleRate, s.channels, s.bytesPerFrame / 2));
    off += s.bytesPerFrame;
  }
  if (off > 0) {
    s.buf.copyWithin(0, off, s.len);
    s.len -= off;
  }
  return frames;
}

function flush(this: AudioByteStream): AudioFrame[] {
  const s = states.get(this);
  if (!s) return originalAudioByteStream.flush.call(this);
  if (s.len === 0) return [];
  if (s.len % (2 * s.channels) !== 0) {
    // As the original: the odd bytes stay buffered.
    log().warn("AudioByteStream: incomplete frame during flush, dropping");
    return [];
  }
  const frame = new Int16Array(s.len / 2);
  new Uint8Array(frame.buffer).set(s.buf.subarray(0, s.len));
  const out = [new AudioFrame(frame, s.sampleRate, s.channels, s.len / 2)];
  s.len = 0;
  return out;
}

/** Replaces `AudioByteStream`'s `write` and `flush` in this process (idempotent). */
export function installLinearAudioByteStream(): void {
  AudioByteStream.prototype.write = write;
  AudioByteStream.prototype.flush = flush;
}
