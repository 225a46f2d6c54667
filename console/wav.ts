/**
 * Minimal RIFF/WAVE reader and writer plus a linear resampler.
 *
 * Hand-written on purpose: the console only needs integer PCM in and 16-bit
 * mono PCM out, which is ~100 lines; no npm WAV package is both well kept and
 * dependency-free, and Deno's std has no WAV module.
 *
 * @module
 */

/** Decoded audio: interleaving removed, channels averaged to mono, 16-bit. */
export interface MonoPcm {
  /** Samples per second of {@link samples}. */
  sampleRate: number;
  /** Channel count of the source file (the samples are already mono). */
  sourceChannels: number;
  /** Bits per sample of the source file. */
  sourceBits: number;
  /** Mono signed 16-bit samples. */
  samples: Int16Array;
}

/** A user-facing WAV problem (missing file, not RIFF, not PCM, ...). */
export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WavError";
  }
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function fourcc(bytes: Uint8Array, off: number): string {
  return String.fromCharCode(bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]);
}

/**
 * Parses an integer-PCM WAV (8/16/24/32-bit, any rate, any channel count)
 * into mono 16-bit. Throws {@link WavError} with a one-sentence message for
 * anything else (compressed or float formats included).
 */
export function decodeWav(bytes: Uint8Array, name = "WAV file"): MonoPcm {
  if (bytes.byteLength < 12 || fourcc(bytes, 0) !== "RIFF" || fourcc(bytes, 8) !== "WAVE") {
    throw new WavError(`${name} is not a WAV file (no RIFF/WAVE header)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  let off = 12;
  while (off + 8 <= bytes.byteLength) {
    const id = fourcc(bytes, off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === "fmt ") {
      if (size < 16) {
        throw new WavError(
          `${name} has a fmt chunk of ${size} bytes (at least 16 expected); re-export it`,
        );
      }
      if (body + 16 > bytes.byteLength) {
        throw new WavError(`${name} is truncated (its fmt chunk is cut short); re-export it`);
      }
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.byteLength) {
        // The sub-format GUID starts with the plain format code.
        format = view.getUint16(body + 24, true);
      }
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      // A writer that never patched its header leaves 0 or 0xFFFFFFFF: the
      // audio then runs to the end of the file. A real empty chunk is followed
      // by another chunk (or nothing), and its neighbours are not audio.
      const unsized = size === 0xffffffff ||
        (size === 0 && body < bytes.byteLength && !chunkHeaderAt(bytes, view, body));
      const end = unsized || body + size > bytes.byteLength ? bytes.byteLength : body + size;
      data = bytes.subarray(body, end);
      if (fmt) break;
      if (unsized) break;
    }
    off = body + size + (size & 1); // chunks are word-aligned
  }
  if (!fmt) throw new WavError(`${name} has no fmt chunk`);
  if (fmt.format !== WAVE_FORMAT_PCM) {
    throw new WavError(`${name} is not PCM (format code ${fmt.format}); convert it to 16-bit PCM`);
  }
  if (![8, 16, 24, 32].includes(fmt.bits)) {
    throw new WavError(`${name} uses ${fmt.bits}-bit samples; only 8/16/24/32-bit PCM is read`);
  }
  if (fmt.channels < 1 || fmt.rate < 1000 || fmt.rate > 384000) {
    throw new WavError(`${name} has an invalid format (${fmt.channels} ch, ${fmt.rate} Hz)`);
  }
  if (!data) throw new WavError(`${name} has no data chunk`);

  const bps = fmt.bits / 8;
  const frameBytes = bps * fmt.channels;
  const frames = Math.floor(data.byteLength / frameBytes);
  if (frames === 0) throw new WavError(`${name} holds no audio (its data chunk is empty)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = (p: number): number => {
    switch (bps) {
      case 1:
        return (dv.getUint8(p) - 128) << 8;
      case 2:
        return dv.getInt16(p, true);
      case 3:
        return (dv.getInt8(p + 2) << 8) | dv.getUint8(p + 1);
      default:
        return dv.getInt32(p, true) >> 16;
    }
  };
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let acc = 0;
    for (let c = 0; c < fmt.channels; c++) acc += read(i * frameBytes + c * bps);
    out[i] = Math.round(acc / fmt.channels);
  }
  return { sampleRate: fmt.rate, sourceChannels: fmt.channels, sourceBits: fmt.bits, samples: out };
}

/** True when `off` starts a plausible RIFF chunk header: a printable id and a size that fits. */
function chunkHeaderAt(bytes: Uint8Array, view: DataView, off: number): boolean {
  if (off + 8 > bytes.byteLength) return false;
  for (let i = 0; i < 4; i++) {
    if (bytes[off + i] < 0x20 || bytes[off + i] > 0x7e) return false;
  }
  return off + 8 + view.getUint32(off + 4, true) <= bytes.byteLength + 1;
}

/** Reads and decodes a WAV file, turning a missing file into a {@link WavError}. */
export async function readWavFile(path: string): Promise<MonoPcm> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new WavError(`${path}: no such file`);
    if (e instanceof Deno.errors.IsADirectory) throw new WavError(`${path} is a directory`);
    throw new WavError(`${path} cannot be read (${(e as Error).message})`);
  }
  return decodeWav(bytes, path);
}

/** Builds a 44-byte canonical header for mono/multi-channel 16-bit PCM. */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Uint8Array {
  const h = new Uint8Array(44);
  const v = new DataView(h.buffer);
  const put = (off: number, s: string) => {
    for (let i = 0; i < 4; i++) h[off + i] = s.charCodeAt(i);
  };
  put(0, "RIFF");
  v.setUint32(4, 36 + dataBytes, true);
  put(8, "WAVE");
  put(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, WAVE_FORMAT_PCM, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  put(36, "data");
  v.setUint32(40, dataBytes, true);
  return h;
}

/** Encodes 16-bit samples (interleaved when `channels` > 1) as a complete WAV file. */
export function encodeWav(samples: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  const out = new Uint8Array(44 + samples.byteLength);
  out.set(wavHeader(sampleRate, channels, samples.byteLength));
  out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), 44);
  return out;
}

/**
 * Streaming mono 16-bit WAV writer. Samples go to disk as they come (a long
 * session never sits in memory); the header's sizes are patched on close.
 */
export class WavWriter {
  #file: Deno.FsFile;
  #bytes = 0;
  #closed = false;

  private constructor(file: Deno.FsFile, readonly sampleRate: number) {
    this.#file = file;
  }

  /** Creates (truncates) `path`; a bad path becomes a {@link WavError}. */
  static create(path: string, sampleRate: number): WavWriter {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new WavError(`${path} cannot be written (${(e as Error).message})`);
    }
    writeAll(file, wavHeader(sampleRate, 1, 0));
    return new WavWriter(file, sampleRate);
  }

  /** Seconds of audio written so far. */
  get seconds(): number {
    return this.#bytes / 2 / this.sampleRate;
  }

  /** Appends samples (synchronous: chunks are small and ordering must hold). */
  write(samples: Int16Array): void {
    if (this.#closed || samples.length === 0) return;
    writeAll(this.#file, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    this.#bytes += samples.byteLength;
  }

  /** Patches the RIFF and data sizes and closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const header = wavHeader(this.sampleRate, 1, this.#bytes);
    this.#file.seekSync(0, Deno.SeekMode.Start);
    writeAll(this.#file, header);
    this.#file.close();
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) off += file.writeSync(bytes.subarray(off));
}

/**
 * Linear-interpolation resampler for whole buffers. Good enough for speech
 * going into an STT (which itself resamples to 16 kHz); not for music.
 */
export function resampleLinear(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || input.length === 0) return input.slice();
  const outLen = Math.max(1, Math.round(input.length * toRate / fromRate));
  const out = new Int16Array(outLen);
  const step = fromRate / toRate;
  for (let i = 0; i < outLen; i++) {
    const pos = i * step;
    const i0 = Math.floor(pos);
    const i1 = Math.min(i0 + 1, input.length - 1);
    const frac = pos - i0;
    const a = input[Math.min(i0, input.length - 1)];
    out[i] = Math.round(a + (input[i1] - a) * frac);
  }
  return out;
}

/** Root-mean-square level of 16-bit samples, 0..1 (used to tell speech from silence). */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let acc = 0;
  for (const s of samples) acc += s * s;
  return Math.sqrt(acc / samples.length) / 32768;
}
