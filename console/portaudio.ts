/**
 * Speakers and microphone through PortAudio, loaded from the OS with
 * `Deno.dlopen` (the same library `lk console` uses). No npm package, no
 * native build step: `apt install libportaudio2`, `brew install portaudio`,
 * or `portaudio.dll` on PATH. Blocking read/write calls run as
 * `nonblocking` FFI symbols, i.e. on Deno's blocking thread pool, so the
 * event loop never stalls on the sound card and no audio-thread callback
 * into JavaScript is needed.
 *
 * @module
 */
import type { OutputDevice } from "./playout.ts";

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
  Pa_OpenDefaultStream: {
    parameters: ["buffer", "i32", "i32", ULONG, "f64", ULONG, "pointer", "pointer"],
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

/** An initialized PortAudio with the requested default streams open. */
export class AudioDevices {
  readonly output?: PortAudioOutput;
  readonly input?: PortAudioInput;
  readonly #lib: PaLib;
  #closed = false;

  constructor(lib: PaLib, output?: PortAudioOutput, input?: PortAudioInput) {
    this.#lib = lib;
    this.output = output;
    this.input = input;
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

function openStream(
  lib: PaLib,
  inputs: number,
  outputs: number,
  rate: number,
  framesPerBuffer: number,
): Deno.PointerValue {
  const out = new BigUint64Array(1);
  const big = ULONG === "u64";
  const rc = lib.symbols.Pa_OpenDefaultStream(
    new Uint8Array(out.buffer),
    inputs,
    outputs,
    (big ? paInt16 : Number(paInt16)) as never,
    rate,
    (big ? BigInt(framesPerBuffer) : framesPerBuffer) as never,
    null,
    null,
  );
  if (rc !== paNoError) throw new Error(errorText(lib, rc));
  const stream = Deno.UnsafePointer.create(out[0]);
  const started = lib.symbols.Pa_StartStream(stream);
  if (started !== paNoError) {
    void lib.symbols.Pa_CloseStream(stream);
    throw new Error(errorText(lib, started));
  }
  return stream;
}

/**
 * Loads PortAudio and opens the default output (and input if asked) at
 * `rate` Hz mono 16-bit. Never throws: a machine without the library or
 * without devices yields `{ ok: false, reason }`, a one-line explanation.
 */
export function openAudioDevices(opts: { rate: number; input: boolean }): AudioProbe {
  let lib: PaLib | undefined;
  const tried = portAudioCandidates();
  for (const name of tried) {
    try {
      lib = Deno.dlopen(name, SYMBOLS);
      break;
    } catch {
      // try the next name
    }
  }
  if (!lib) {
    const hint = Deno.build.os === "darwin"
      ? "brew install portaudio"
      : Deno.build.os === "windows"
      ? "put portaudio.dll on PATH"
      : "apt install libportaudio2";
    return { ok: false, reason: `PortAudio is not installed (${hint})` };
  }
  const l = lib;
  try {
    return withQuietStderr((): AudioProbe => {
      const init = l.symbols.Pa_Initialize();
      if (init !== paNoError) throw new Error(errorText(l, init));
      if (l.symbols.Pa_GetDefaultOutputDevice() < 0) {
        throw new Error("PortAudio sees no output device");
      }
      if (opts.input && l.symbols.Pa_GetDefaultInputDevice() < 0) {
        throw new Error("PortAudio sees no microphone");
      }
      const outStream = openStream(l, 0, 1, opts.rate, 480);
      const output = new PortAudioOutput(l, outStream, opts.rate);
      let input: PortAudioInput | undefined;
      if (opts.input) {
        try {
          input = new PortAudioInput(l, openStream(l, 1, 0, opts.rate, 1440));
        } catch (e) {
          void output.close();
          throw e;
        }
      }
      return { ok: true, devices: new AudioDevices(l, output, input) };
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
