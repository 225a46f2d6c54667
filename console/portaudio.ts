/**
 * Speakers and microphone through PortAudio, loaded from the OS with
 * `Deno.dlopen` (the same library `lk console` uses). No npm package, no
 * native build step: `apt install libportaudio2`, `brew install portaudio`,
 * or `portaudio.dll` on PATH. Blocking read/write calls run as
 * `nonblocking` FFI symbols, i.e. on Deno's blocking thread pool, so the
 * event loop never stalls on the sound card and no audio-thread callback
 * into JavaScript is needed.
 *
 * One file past the usual size on purpose: it holds one FFI library's
 * symbols and the wrappers over them, and splitting it would scatter the
 * struct layouts those wrappers read.
 *
 * @module
 */
import type { OutputDevice } from "./playout.ts";
import { type AudioDeviceInfo, DeviceChoiceError, deviceLabel, pickDevice } from "./devices.ts";

const paInt16 = 0x00000008n;
const paNoError = 0;
const paInputOverflowed = -9981;
const paOutputUnderflowed = -9980;

// `unsigned long` is 32-bit on Windows, 64-bit elsewhere.
const ULONG = Deno.build.os === "windows" ? "u32" : "u64";

const SYMBOLS = {
  Pa_Initialize: { parameters: [], result: "i32" },
  Pa_Terminate: { parameters: [], result: "i32" },
  Pa_GetErrorText: { parameters: ["i32"], result: "pointer" },
  Pa_GetDefaultInputDevice: { parameters: [], result: "i32" },
  Pa_GetDefaultOutputDevice: { parameters: [], result: "i32" },
  Pa_GetDeviceCount: { parameters: [], result: "i32" },
  Pa_GetDeviceInfo: { parameters: ["i32"], result: "pointer" },
  Pa_GetHostApiInfo: { parameters: ["i32"], result: "pointer" },
  Pa_OpenStream: {
    parameters: ["buffer", "buffer", "buffer", "f64", ULONG, ULONG, "pointer", "pointer"],
    result: "i32",
  },
  Pa_StartStream: { parameters: ["pointer"], result: "i32" },
  Pa_StopStream: { parameters: ["pointer"], result: "i32", nonblocking: true },
  Pa_AbortStream: { parameters: ["pointer"], result: "i32", nonblocking: true },
  Pa_CloseStream: { parameters: ["pointer"], result: "i32", nonblocking: true },
  Pa_GetStreamInfo: { parameters: ["pointer"], result: "pointer" },
  Pa_WriteStream: { parameters: ["pointer", "buffer", ULONG], result: "i32", nonblocking: true },
  Pa_ReadStream: { parameters: ["pointer", "buffer", ULONG], result: "i32", nonblocking: true },
} as const;

type PaLib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Names tried, in order, per OS. */
export function portAudioCandidates(os = Deno.build.os): string[] {
  // An explicit library path is the only one tried (also how tests simulate its absence).
  const env = Deno.env.get("PORTAUDIO_LIB");
  if (env) return [env];
  const base = os === "darwin"
    ? [
      "libportaudio.2.dylib",
      "/opt/homebrew/lib/libportaudio.2.dylib",
      "/usr/local/lib/libportaudio.2.dylib",
    ]
    : os === "windows"
    ? ["portaudio.dll", "libportaudio-2.dll", "portaudio_x64.dll"]
    : ["libportaudio.so.2", "libportaudio.so"];
  return base;
}

/**
 * Runs `fn` with file descriptor 2 pointed at /dev/null. ALSA and JACK print
 * dozens of diagnostic lines while PortAudio enumerates devices on a machine
 * without a sound card; the console must say one line instead.
 */
function withQuietStderr<T>(fn: () => T): T {
  if (Deno.build.os === "windows") return fn();
  let libc;
  try {
    libc = Deno.dlopen(
      Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6",
      {
        open: { parameters: ["buffer", "i32"], result: "i32" },
        dup: { parameters: ["i32"], result: "i32" },
        dup2: { parameters: ["i32", "i32"], result: "i32" },
        close: { parameters: ["i32"], result: "i32" },
      } as const,
    );
  } catch {
    return fn();
  }
  const c = libc.symbols;
  const devNull = c.open(new TextEncoder().encode("/dev/null\0"), 1 /* O_WRONLY */);
  const saved = devNull >= 0 ? c.dup(2) : -1;
  if (saved >= 0) c.dup2(devNull, 2);
  try {
    return fn();
  } finally {
    if (saved >= 0) {
      c.dup2(saved, 2);
      c.close(saved);
    }
    if (devNull >= 0) c.close(devNull);
    libc.close();
  }
}

/** Outcome of {@link openAudioDevices}. */
export type AudioProbe =
  | { ok: true; devices: AudioDevices }
  | { ok: false; reason: string };

/** An initialized PortAudio with the requested streams open. */
export class AudioDevices {
  readonly output?: PortAudioOutput;
  readonly input?: PortAudioInput;
  /** The devices in use, for the banner (`name (host API)`). */
  readonly outputName?: string;
  /** See {@link outputName}. */
  readonly inputName?: string;
  readonly #lib: PaLib;
  #closed = false;

  constructor(
    lib: PaLib,
    output?: PortAudioOutput,
    input?: PortAudioInput,
    names: { output?: string; input?: string } = {},
  ) {
    this.#lib = lib;
    this.output = output;
    this.input = input;
    this.outputName = names.output;
    this.inputName = names.input;
  }

  /** Stops both streams, terminates PortAudio and unloads it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.input?.close();
    await this.output?.close();
    withQuietStderr(() => this.#lib.symbols.Pa_Terminate());
    this.#lib.close();
  }
}

function errorText(lib: PaLib, code: number): string {
  const p = lib.symbols.Pa_GetErrorText(code);
  return p ? Deno.UnsafePointerView.getCString(p) : `PortAudio error ${code}`;
}

/** Loads the library, or says in one line why it cannot be loaded. */
function loadPortAudio(): PaLib | string {
  for (const name of portAudioCandidates()) {
    try {
      return Deno.dlopen(name, SYMBOLS);
    } catch {
      // try the next name
    }
  }
  const hint = Deno.build.os === "darwin"
    ? "brew install portaudio"
    : Deno.build.os === "windows"
    ? "put portaudio.dll on PATH"
    : "apt install libportaudio2";
  return `PortAudio is not installed (${hint})`;
}

function cString(p: Deno.PointerValue): string {
  return p ? Deno.UnsafePointerView.getCString(p) : "";
}

// PaDeviceInfo { int structVersion; const char *name; PaHostApiIndex hostApi;
//   int maxInputChannels; int maxOutputChannels; PaTime defaultLowInputLatency;
//   defaultLowOutputLatency; defaultHighInputLatency; defaultHighOutputLatency;
//   double defaultSampleRate } — the same offsets on every 64-bit ABI.
// PaHostApiInfo { int structVersion; PaHostApiTypeId type; const char *name; ... }
function readDevices(lib: PaLib): AudioDeviceInfo[] {
  const count = lib.symbols.Pa_GetDeviceCount();
  if (count < 0) throw new Error(errorText(lib, count));
  const defaultIn = lib.symbols.Pa_GetDefaultInputDevice();
  const defaultOut = lib.symbols.Pa_GetDefaultOutputDevice();
  const out: AudioDeviceInfo[] = [];
  for (let index = 0; index < count; index++) {
    const p = lib.symbols.Pa_GetDeviceInfo(index);
    if (!p) continue;
    const v = new Deno.UnsafePointerView(p);
    const host = lib.symbols.Pa_GetHostApiInfo(v.getInt32(16));
    out.push({
      index,
      name: cString(Deno.UnsafePointer.create(v.getBigUint64(8))),
      hostApi: host
        ? cString(Deno.UnsafePointer.create(new Deno.UnsafePointerView(host).getBigUint64(8)))
        : "",
      maxInputChannels: v.getInt32(20),
      maxOutputChannels: v.getInt32(24),
      inputLatencyS: v.getFloat64(32),
      outputLatencyS: v.getFloat64(40),
      defaultSampleRate: v.getFloat64(64),
      isDefaultInput: index === defaultIn,
      isDefaultOutput: index === defaultOut,
    });
  }
  return out;
}

/**
 * Lists the audio devices PortAudio sees. Never throws: a machine without the
 * library yields `{ ok: false, reason }`; one without devices an empty list.
 */
export function listAudioDevices():
  | { ok: true; devices: AudioDeviceInfo[] }
  | { ok: false; reason: string } {
  const lib = loadPortAudio();
  if (typeof lib === "string") return { ok: false, reason: lib };
  try {
    return withQuietStderr(() => {
      const init = lib.symbols.Pa_Initialize();
      if (init !== paNoError) return { ok: false as const, reason: errorText(lib, init) };
      try {
        return { ok: true as const, devices: readDevices(lib) };
      } finally {
        lib.symbols.Pa_Terminate();
      }
    });
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    lib.close();
  }
}

function openStream(
  lib: PaLib,
  device: AudioDeviceInfo,
  direction: "input" | "output",
  rate: number,
  framesPerBuffer: number,
): Deno.PointerValue {
  // PaStreamParameters { PaDeviceIndex device; int channelCount; PaSampleFormat
  //   sampleFormat (unsigned long); PaTime suggestedLatency; void *hostApiSpecificStreamInfo }:
  // 32 bytes, latency at 16 on both LP64 and LLP64.
  const params = new Uint8Array(32);
  const v = new DataView(params.buffer);
  v.setInt32(0, device.index, true);
  v.setInt32(4, 1, true);
  if (ULONG === "u64") v.setBigUint64(8, paInt16, true);
  else v.setUint32(8, Number(paInt16), true);
  v.setFloat64(16, direction === "input" ? device.inputLatencyS : device.outputLatencyS, true);
  const out = new BigUint64Array(1);
  const big = ULONG === "u64";
  const rc = lib.symbols.Pa_OpenStream(
    new Uint8Array(out.buffer),
    direction === "input" ? params : null,
    direction === "output" ? params : null,
    rate,
    (big ? BigInt(framesPerBuffer) : framesPerBuffer) as never,
    (big ? 0n : 0) as never,
    null,
    null,
  );
  if (rc !== paNoError) throw new Error(`${device.name}: ${errorText(lib, rc)}`);
  const stream = Deno.UnsafePointer.create(out[0]);
  const started = lib.symbols.Pa_StartStream(stream);
  if (started !== paNoError) {
    void lib.symbols.Pa_CloseStream(stream);
    throw new Error(`${device.name}: ${errorText(lib, started)}`);
  }
  return stream;
}

/** What {@link openAudioDevices} should open. */
export interface OpenAudioOptions {
  /** Sample rate of both streams, mono 16-bit. */
  rate: number;
  /** Open a microphone too. */
  input: boolean;
  /** `--input-device`: a device number or part of its name; default device otherwise. */
  inputDevice?: string;
  /** `--output-device`: as {@link inputDevice}, for the speaker. */
  outputDevice?: string;
}

/**
 * Loads PortAudio and opens the output (and input if asked) at `rate` Hz mono
 * 16-bit: the chosen devices, else the system's defaults. Never throws: a
 * machine without the library or without devices yields `{ ok: false, reason }`,
 * a one-line explanation; so does a device query that matches nothing
 * (`deviceError` set, a mistake to fix rather than a missing device).
 */
export function openAudioDevices(
  opts: OpenAudioOptions,
): AudioProbe | { ok: false; reason: string; deviceError: true } {
  const loaded = loadPortAudio();
  if (typeof loaded === "string") return { ok: false, reason: loaded };
  const l = loaded;
  try {
    return withQuietStderr((): AudioProbe | { ok: false; reason: string; deviceError: true } => {
      const init = l.symbols.Pa_Initialize();
      if (init !== paNoError) throw new Error(errorText(l, init));
      const devices = readDevices(l);
      let outDev: AudioDeviceInfo | undefined;
      let inDev: AudioDeviceInfo | undefined;
      try {
        outDev = pickDevice(devices, "output", opts.outputDevice);
        if (opts.input) inDev = pickDevice(devices, "input", opts.inputDevice);
      } catch (e) {
        if (!(e instanceof DeviceChoiceError)) throw e;
        l.symbols.Pa_Terminate();
        l.close();
        return { ok: false, reason: e.message, deviceError: true };
      }
      if (!outDev) throw new Error("PortAudio sees no output device");
      if (opts.input && !inDev) throw new Error("PortAudio sees no microphone");
      const outStream = openStream(l, outDev, "output", opts.rate, 480);
      const output = new PortAudioOutput(l, outStream, opts.rate);
      let input: PortAudioInput | undefined;
      if (inDev) {
        try {
          input = new PortAudioInput(l, openStream(l, inDev, "input", opts.rate, 1440));
        } catch (e) {
          void output.close();
          throw e;
        }
      }
      return {
        ok: true,
        devices: new AudioDevices(l, output, input, {
          output: deviceLabel(outDev),
          input: inDev && deviceLabel(inDev),
        }),
      };
    });
  } catch (e) {
    try {
      withQuietStderr(() => l.symbols.Pa_Terminate());
      l.close();
    } catch {
      // best effort
    }
    return { ok: false, reason: (e as Error).message };
  }
}

/** The default speaker as an {@link OutputDevice}: a write loop on the FFI thread pool. */
export class PortAudioOutput implements OutputDevice {
  readonly latencyMs: number;
  readonly #lib: PaLib;
  readonly #stream: Deno.PointerValue;
  #queue: Int16Array[] = [];
  #pumping: Promise<void> | undefined;
  #closed = false;

  constructor(lib: PaLib, stream: Deno.PointerValue, _rate: number) {
    this.#lib = lib;
    this.#stream = stream;
    const info = lib.symbols.Pa_GetStreamInfo(stream);
    // PaStreamInfo { int structVersion; double inputLatency; double outputLatency; double sampleRate }
    this.latencyMs = info ? new Deno.UnsafePointerView(info).getFloat64(16) * 1000 : 50;
  }

  /** Queues samples; the pump hands them to PortAudio in order. */
  write(samples: Int16Array): void {
    if (this.#closed) return;
    this.#queue.push(samples);
    this.#pumping ??= this.#pump().finally(() => this.#pumping = undefined);
  }

  async #pump(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const chunk = this.#queue.shift()!;
      const frames = ULONG === "u64" ? BigInt(chunk.length) : chunk.length;
      // Blocks (off the event loop) until the device has room.
      const rc = await this.#lib.symbols.Pa_WriteStream(this.#stream, chunk, frames as never);
      if (rc !== paNoError && rc !== paOutputUnderflowed) break;
    }
  }

  /** Drops queued audio (what PortAudio already holds plays out, ~latency). */
  clear(): void {
    this.#queue = [];
  }

  /** Aborts and closes the stream. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    await this.#pumping;
    await this.#lib.symbols.Pa_AbortStream(this.#stream);
    await this.#lib.symbols.Pa_CloseStream(this.#stream);
  }
}

/** The default microphone: 30 ms reads, paced by the device itself. */
export class PortAudioInput {
  readonly #lib: PaLib;
  readonly #stream: Deno.PointerValue;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(lib: PaLib, stream: Deno.PointerValue) {
    this.#lib = lib;
    this.#stream = stream;
  }

  /** Starts delivering `frameSamples`-long frames to `onFrame` until closed. */
  start(frameSamples: number, onFrame: (samples: Int16Array) => void): void {
    this.#running ??= (async () => {
      const frameMs = frameSamples / 48;
      let t0 = 0;
      let n = 0;
      while (!this.#closed) {
        const buf = new Int16Array(frameSamples);
        const frames = ULONG === "u64" ? BigInt(frameSamples) : frameSamples;
        const rc = await this.#lib.symbols.Pa_ReadStream(this.#stream, buf, frames as never);
        if (this.#closed) break;
        if (rc !== paNoError && rc !== paInputOverflowed) break;
        onFrame(buf);
        // A device that returns faster than real time (ALSA's null PCM, some
        // virtual cables) must not flood the agent: hold to 30 ms per frame.
        if (n++ === 0) t0 = performance.now();
        const ahead = t0 + n * frameMs - performance.now();
        if (ahead > 100) await new Promise((r) => setTimeout(r, ahead - 50));
      }
    })();
  }

  /** Stops reading and closes the stream. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lib.symbols.Pa_AbortStream(this.#stream);
    await this.#running;
    await this.#lib.symbols.Pa_CloseStream(this.#stream);
  }
}
