/**
 * The Silero VAD of `@livekit/agents-plugin-silero` 1.9.0, with its per-window loop rewritten to
 * move audio linearly. Same model file, same ONNX session options, same options and defaults,
 * same events with the same values (`silero_vad_test.ts` runs both on the same audio and compares
 * every event); two differences, both in how audio is moved, not in what is decided:
 *
 * - **Linear buffers.** The plugin runs 31 windows a second per call, and for each one merges the
 *   pending frames twice with agents-js's `mergeFrames` (every sample through a JS array:
 *   `new Int16Array([...data, ...frame.data])`) and converts the window with a per-sample
 *   callback (`Float32Array.from(x, (v) => v / 32767)`): 0.18 ms of the JS thread per window,
 *   next to the model's own 0.23 ms (measured on this project's machine). Here the pending audio
 *   is one growable `Int16Array`, appended with `set()`, and the window is converted in a plain
 *   loop. Upstream: `set()` in `mergeFrames` (agents-js `src/utils.ts`).
 * - **The window runs as soon as its samples are there.** The plugin counts the samples left
 *   over from a window as half what they are (`Math.trunc(data.length / 2)`: bytes, for an
 *   `Int16Array` of samples), so with 20 ms frames every few windows waited one frame (20 ms)
 *   longer than it had to, and the loop carried up to a window's worth of audio behind. The
 *   windows, and so every probability and every event, are the same; they come out sooner.
 *   Upstream: `data.length` in the plugin's leftover frames (`plugins/silero/src/vad.ts`).
 *
 * The model (`silero_vad.onnx`) is the plugin's own file, loaded with its options; the ONNX
 * inference itself, synchronous on the JS thread in onnxruntime-node, is the model's cost and is
 * unchanged.
 *
 * @module
 */
import {
  ExpFilter,
  log,
  VAD as BaseVAD,
  type VADEvent,
  VADEventType,
  VADStream as BaseVADStream,
} from "@livekit/agents";
import { AudioFrame, AudioResampler, AudioResamplerQuality } from "@livekit/rtc-node";
import { InferenceSession, Tensor } from "onnxruntime-node";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The plugin's options (`VADOptions` of `@livekit/agents-plugin-silero` 1.9.0). */
export interface SileroOptions {
  /** Speech shorter than this (ms) does not start a speech segment. */
  minSpeechDuration: number;
  /** Silence this long (ms) ends a speech segment. */
  minSilenceDuration: number;
  /** Audio kept before the speech's start (ms). */
  prefixPaddingDuration: number;
  /** The most speech buffered for one segment (ms). */
  maxBufferedSpeech: number;
  /** Probability above which a window is speech. */
  activationThreshold: number;
  /** The model's sample rate: 8000 or 16000. */
  sampleRate: 8000 | 16000;
  /** Run on the CPU even where another execution provider is available. */
  forceCPU: boolean;
}

/** The plugin's defaults. */
export const DEFAULT_SILERO_OPTIONS: SileroOptions = {
  minSpeechDuration: 50,
  minSilenceDuration: 550,
  prefixPaddingDuration: 500,
  maxBufferedSpeech: 60_000,
  activationThreshold: 0.5,
  sampleRate: 16_000,
  forceCPU: true,
};

/** The plugin's threshold for its "slower than realtime" warning (ms behind). */
const SLOW_INFERENCE_THRESHOLD = 200;

/** The plugin's own model file, next to its entry module. */
function modelPath(): string {
  return fileURLToPath(
    new URL("silero_vad.onnx", import.meta.resolve("@livekit/agents-plugin-silero")),
  );
}

/** The plugin's session options, unchanged. */
function newInferenceSession(forceCPU: boolean): Promise<InferenceSession> {
  return InferenceSession.create(modelPath(), {
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    executionMode: "sequential",
    executionProviders: forceCPU ? [{ name: "cpu" }] : undefined,
  });
}

/** One stream's model state (the plugin's `OnnxModel`, with its context kept in place). */
class OnnxModel {
  readonly windowSizeSamples: number;
  readonly contextSize: number;
  readonly sampleRate: number;
  #session: InferenceSession;
  #sampleRateNd: BigInt64Array;
  #rnnState = new Float32Array(2 * 1 * 128);
  #inputBuffer: Float32Array;

  constructor(session: InferenceSession, sampleRate: 8000 | 16000) {
    this.#session = session;
    this.sampleRate = sampleRate;
    this.windowSizeSamples = sampleRate === 8000 ? 256 : 512;
    this.contextSize = sampleRate === 8000 ? 32 : 64;
    this.#sampleRateNd = BigInt64Array.from([BigInt(sampleRate)]);
    this.#inputBuffer = new Float32Array(this.contextSize + this.windowSizeSamples);
  }

  reset(): void {
    this.#rnnState.fill(0);
    this.#inputBuffer.fill(0);
  }

  /** The window's data goes after the last window's context; returns the speech probability. */
  async run(window: Float32Array): Promise<number> {
    this.#inputBuffer.set(window, this.contextSize);
    const result = await this.#session.run({
      input: new Tensor("float32", this.#inputBuffer, [1, this.#inputBuffer.length]),
      state: new Tensor("float32", this.#rnnState, [2, 1, 128]),
      sr: new Tensor("int64", this.#sampleRateNd),
    });
    this.#rnnState.set(result.stateN.data as Float32Array);
    // The next window's context: this input's last samples.
    this.#inputBuffer.copyWithin(0, this.windowSizeSamples);
    return (result.output.data as Float32Array)[0];
  }
}

/** Pending samples in one growable buffer: appended with `set()`, consumed from the front. */
class SampleQueue {
  data = new Int16Array(4096);
  length = 0;

  push(samples: Int16Array): void {
    if (this.length + samples.length > this.data.length) {
      const grown = new Int16Array(Math.max(this.data.length * 2, this.length + samples.length));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(samples, this.length);
    this.length += samples.length;
  }

  /** Drops the first `n` samples. */
  shift(n: number): void {
    if (n >= this.length) {
      this.length = 0;
      return;
    }
    this.data.copyWithin(0, n, this.length);
    this.length -= n;
  }

  clear(): void {
    this.length = 0;
  }
}

/** The Silero VAD (see the module doc); load it with {@link SileroVAD.load}. */
export class SileroVAD extends BaseVAD {
  /** agents-js's label for the VAD's metrics. */
  label = "silero.VAD";
  #session: InferenceSession;
  #opts: SileroOptions;
  #streams: SileroVADStream[] = [];

  /** Use {@link SileroVAD.load}. */
  constructor(session: InferenceSession, opts: SileroOptions) {
    super({ updateInterval: 32 });
    this.#session = session;
    this.#opts = opts;
  }

  /** Loads the model (the plugin's file and session options); `opts` over the plugin's defaults. */
  static async load(opts: Partial<SileroOptions> = {}): Promise<SileroVAD> {
    const merged = { ...DEFAULT_SILERO_OPTIONS, ...opts };
    return new SileroVAD(await newInferenceSession(merged.forceCPU), merged);
  }

  /** Changes options for this VAD and its open streams. */
  updateOptions(opts: Partial<SileroOptions>): void {
    this.#opts = { ...this.#opts, ...opts };
    for (const stream of this.#streams) stream.updateOptions(this.#opts);
  }

  override get minSilenceDuration(): number {
    return this.#opts.minSilenceDuration;
  }

  /**
   * A stream for one call's audio, with its own model state. It is forgotten when it closes: the
   * plugin keeps every stream it made (for `updateOptions`), and with it each one's 60 s speech
   * buffer (1.9 MiB), for the life of the VAD, which a call host shares by all its calls.
   */
  stream(): SileroVADStream {
    const stream = new SileroVADStream(
      this,
      this.#opts,
      new OnnxModel(this.#session, this.#opts.sampleRate),
      () => {
        const at = this.#streams.indexOf(stream);
        if (at >= 0) this.#streams.splice(at, 1);
      },
    );
    this.#streams.push(stream);
    return stream;
  }

  /** How many streams are open (a test's view of the bookkeeping above). */
  get openStreams(): number {
    return this.#streams.length;
  }
}

/** One stream's loop: the plugin's decisions, with the audio moved as the module doc says. */
export class SileroVADStream extends BaseVADStream {
  #opts: SileroOptions;
  #model: OnnxModel;
  #inputSampleRate = 0;
  #speechBuffer: Int16Array | null = null;
  #speechBufferMaxReached = false;
  #prefixPaddingSamples = 0;
  #expFilter = new ExpFilter(0.35);
  #extraInferenceTime = 0;
  #logger = log();
  #onClose: () => void;

  /** Use {@link SileroVAD.stream}. */
  constructor(vad: SileroVAD, opts: SileroOptions, model: OnnxModel, onClose: () => void) {
    super(vad);
    this.#opts = opts;
    this.#model = model;
    this.#onClose = onClose;
    this.#run().catch((error) => {
      this.#logger.error(error, "Error in VAD inference task");
      if (!this.closed) this.close();
    });
  }

  async #run(): Promise<void> {
    const windowSize = this.#model.windowSizeSamples;
    const window = new Float32Array(windowSize);
    let resampler: AudioResampler | null = null;
    // Pending audio at the input's rate, and at the model's (the same queue when they match).
    const input = new SampleQueue();
    let inference = input;
    let speechBufferIndex = 0;
    let pubSpeaking = false;
    let pubSpeechDuration = 0;
    let pubSilenceDuration = 0;
    let pubCurrentSample = 0;
    let pubTimestamp = 0;
    let speechThresholdDuration = 0;
    let silenceThresholdDuration = 0;
    let inputCopyRemainingFrac = 0;

    const newResampler = () =>
      this.#inputSampleRate && this.#opts.sampleRate !== this.#inputSampleRate
        ? new AudioResampler(
          this.#inputSampleRate,
          this.#opts.sampleRate,
          1,
          AudioResamplerQuality.QUICK,
        )
        : null;
    const resetState = () => {
      this.#model.reset();
      this.#expFilter = new ExpFilter(0.35);
      speechBufferIndex = 0;
      this.#speechBufferMaxReached = false;
      this.#speechBuffer?.fill(0);
      pubSpeaking = false;
      pubSpeechDuration = 0;
      pubSilenceDuration = 0;
      pubCurrentSample = 0;
      pubTimestamp = 0;
      speechThresholdDuration = 0;
      silenceThresholdDuration = 0;
      input.clear();
      inference.clear();
      inputCopyRemainingFrac = 0;
      this.#extraInferenceTime = 0;
      resampler?.close();
      resampler = newResampler();
    };
    const copySpeechBuffer = () =>
      new AudioFrame(
        this.#speechBuffer!.slice(0, speechBufferIndex),
        this.#inputSampleRate,
        1,
        speechBufferIndex,
      );
    const resetWriteCursor = () => {
      if (speechBufferIndex <= this.#prefixPaddingSamples) return;
      this.#speechBuffer!.copyWithin(
        0,
        speechBufferIndex - this.#prefixPaddingSamples,
        speechBufferIndex,
      );
      speechBufferIndex = this.#prefixPaddingSamples;
      this.#speechBufferMaxReached = false;
    };
    const event = (
      type: VADEventType,
      p: number,
      inferenceDuration: number,
      frames: AudioFrame[],
    ) =>
      this.sendVADEvent(
        {
          type,
          samplesIndex: pubCurrentSample,
          timestamp: pubTimestamp,
          silenceDuration: pubSilenceDuration,
          speechDuration: pubSpeechDuration,
          probability: p,
          inferenceDuration,
          frames,
          speaking: pubSpeaking,
          rawAccumulatedSilence: type === VADEventType.INFERENCE_DONE
            ? silenceThresholdDuration
            : 0,
          rawAccumulatedSpeech: type === VADEventType.INFERENCE_DONE ? speechThresholdDuration : 0,
        } satisfies VADEvent,
      );

    try {
      while (!this.closed) {
        const { done, value: frame } = await this.inputReader.read();
        if (done) break;
        if (typeof frame === "symbol") {
          resetState();
          continue;
        }
        if (!this.#inputSampleRate || !this.#speechBuffer) {
          this.#inputSampleRate = frame.sampleRate;
          this.#prefixPaddingSamples = Math.trunc(
            this.#opts.prefixPaddingDuration * this.#inputSampleRate / 1000,
          );
          this.#speechBuffer = new Int16Array(
            Math.trunc(this.#opts.maxBufferedSpeech * this.#inputSampleRate / 1000) +
              this.#prefixPaddingSamples,
          );
          resampler = newResampler();
          if (resampler) inference = new SampleQueue();
        } else if (frame.sampleRate !== this.#inputSampleRate) {
          this.#logger.error("a frame with a different sample rate was already published");
          continue;
        }
        input.push(frame.data);
        if (resampler) {
          for (const f of resampler.push(frame)) inference.push(f.data);
        }

        while (!this.closed && inference.length >= windowSize) {
          const startTime = process.hrtime.bigint();
          const samples = inference.data;
          for (let i = 0; i < windowSize; i++) window[i] = samples[i] / 32767;
          const p = this.#expFilter.apply(1, await this.#model.run(window));
          const windowDuration = windowSize / this.#opts.sampleRate * 1000;
          pubCurrentSample += windowSize;
          pubTimestamp += windowDuration;
          const resamplingRatio = this.#inputSampleRate / this.#model.sampleRate;
          const toCopy = windowSize * resamplingRatio + inputCopyRemainingFrac;
          const toCopyInt = Math.trunc(toCopy);
          inputCopyRemainingFrac = toCopy - toCopyInt;
          // What the plugin's merged input frame held: every pending input sample.
          const inputWindow = input.data.subarray(0, Math.min(toCopyInt, input.length));
          const availableSpace = this.#speechBuffer.length - speechBufferIndex;
          const toCopyBuffer = Math.min(inputWindow.length, availableSpace);
          if (toCopyBuffer > 0) {
            this.#speechBuffer.set(inputWindow.subarray(0, toCopyBuffer), speechBufferIndex);
            speechBufferIndex += toCopyBuffer;
          } else if (!this.#speechBufferMaxReached) {
            this.#speechBufferMaxReached = true;
            this.#logger.warn(
              "maxBufferedSpeech reached, ignoring further data for the current speech input",
            );
          }
          const inferenceDuration = Number((process.hrtime.bigint() - startTime) / 1_000_000n);
          this.#extraInferenceTime = Math.max(
            0,
            this.#extraInferenceTime + inferenceDuration - windowDuration,
          );
          if (this.#extraInferenceTime > SLOW_INFERENCE_THRESHOLD) {
            this.#logger.child({ delay: this.#extraInferenceTime }).warn(
              "VAD inference is slower than realtime",
            );
          }
          if (pubSpeaking) pubSpeechDuration += windowDuration;
          else pubSilenceDuration += windowDuration;

          // A copy: the queue's memory is reused by the next window.
          const windowFrame = new AudioFrame(
            inputWindow.slice(),
            this.#inputSampleRate,
            1,
            inputWindow.length,
          );
          if (!event(VADEventType.INFERENCE_DONE, p, inferenceDuration, [windowFrame])) continue;

          if (p > this.#opts.activationThreshold) {
            speechThresholdDuration += windowDuration;
            silenceThresholdDuration = 0;
            if (!pubSpeaking && speechThresholdDuration >= this.#opts.minSpeechDuration) {
              pubSpeaking = true;
              pubSilenceDuration = 0;
              pubSpeechDuration = speechThresholdDuration;
              if (
                !event(VADEventType.START_OF_SPEECH, p, inferenceDuration, [copySpeechBuffer()])
              ) continue;
            }
          } else {
            silenceThresholdDuration += windowDuration;
            speechThresholdDuration = 0;
            if (!pubSpeaking) resetWriteCursor();
            if (pubSpeaking && silenceThresholdDuration > this.#opts.minSilenceDuration) {
              pubSpeaking = false;
              pubSpeechDuration = 0;
              pubSilenceDuration = silenceThresholdDuration;
              if (
                !event(VADEventType.END_OF_SPEECH, p, inferenceDuration, [copySpeechBuffer()])
              ) continue;
              resetWriteCursor();
            }
          }
          input.shift(toCopyInt);
          if (inference !== input) inference.shift(windowSize);
        }
      }
    } finally {
      (resampler as AudioResampler | null)?.close();
    }
  }

  /** Closes the stream (once: agents-js's close throws the second time); its VAD forgets it. */
  override close(): void {
    if (this.closed) return;
    this.#onClose();
    super.close();
  }

  /** Changes the options; a new speech-buffer size keeps what is buffered. */
  updateOptions(opts: SileroOptions): void {
    const oldMaxBufferedSpeech = this.#opts.maxBufferedSpeech;
    this.#opts = { ...this.#opts, ...opts };
    if (!this.#inputSampleRate || !this.#speechBuffer) return;
    this.#prefixPaddingSamples = Math.trunc(
      this.#opts.prefixPaddingDuration * this.#inputSampleRate / 1000,
    );
    const resized = new Int16Array(
      Math.trunc(this.#opts.maxBufferedSpeech * this.#inputSampleRate / 1000) +
        this.#prefixPaddingSamples,
    );
    resized.set(
      this.#speechBuffer.subarray(0, Math.min(this.#speechBuffer.length, resized.length)),
    );
    this.#speechBuffer = resized;
    if (this.#opts.maxBufferedSpeech > oldMaxBufferedSpeech) this.#speechBufferMaxReached = false;
  }
}
