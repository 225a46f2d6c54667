/**
 * Microphone sources: a WAV file streamed as if spoken live, and the gate
 * that keeps a real microphone from hearing the agent on the speakers.
 *
 * @module
 */
import { MIC_FRAME_SAMPLES, WIRE_SAMPLE_RATE } from "./broker.ts";
import { type MonoPcm, resampleLinear } from "./wav.ts";

const FRAME_MS = (MIC_FRAME_SAMPLES / WIRE_SAMPLE_RATE) * 1000;

/**
 * Streams a recording as the microphone: resampled to 48 kHz, cut into
 * 30 ms frames, sent in real time (paced against the wall clock, so timer
 * jitter never accumulates), then silence like a quiet room until stopped;
 * the trailing silence is what lets VAD and STT end the last utterance.
 */
export class WavMic {
  readonly samples: Int16Array;
  readonly #onDone?: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #sent = 0;

  constructor(pcm: MonoPcm, onDone?: () => void) {
    this.samples = resampleLinear(pcm.samples, pcm.sampleRate, WIRE_SAMPLE_RATE);
    this.#onDone = onDone;
  }

  /** Seconds of recording (after resampling). */
  get seconds(): number {
    return this.samples.length / WIRE_SAMPLE_RATE;
  }

  /** Starts sending frames to `send`; returns at once. */
  start(send: (frame: Int16Array) => void): void {
    const t0 = performance.now();
    let frame = 0;
    let doneSignalled = false;
    const tick = () => {
      if (this.#stopped) return;
      const due = Math.floor((performance.now() - t0) / FRAME_MS) + 1;
      // Catch up after a late timer, but never burst more than 200 ms.
      for (let n = 0; frame < due && n < 7; n++, frame++) {
        const off = frame * MIC_FRAME_SAMPLES;
        const out = new Int16Array(MIC_FRAME_SAMPLES);
        if (off < this.samples.length) {
          out.set(
            this.samples.subarray(off, Math.min(off + MIC_FRAME_SAMPLES, this.samples.length)),
          );
          this.#sent = Math.min(this.samples.length, off + MIC_FRAME_SAMPLES);
        } else if (!doneSignalled) {
          doneSignalled = true;
          this.#onDone?.();
        }
        send(out);
      }
      const next = t0 + frame * FRAME_MS - performance.now();
      this.#timer = setTimeout(tick, Math.max(0, next));
    };
    tick();
  }

  /** Seconds of the recording sent so far. */
  get sentSeconds(): number {
    return this.#sent / WIRE_SAMPLE_RATE;
  }

  /** Stops the stream. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

/**
 * Half-duplex gate for a device microphone without echo cancellation: while
 * the agent's audio plays (and `tailMs` after), frames are replaced by
 * silence so the agent does not hear, and interrupt, itself. `--barge-in`
 * turns it off for headsets.
 */
export class EchoGate {
  #openAt = 0;
  constructor(readonly enabled: boolean, readonly tailMs = 300) {}

  /** Call while the agent is audible. */
  hold(): void {
    this.#openAt = performance.now() + this.tailMs;
  }

  /** The frame to send: `frame` itself, or silence while the agent speaks. */
  pass(frame: Int16Array, agentAudible: boolean): Int16Array {
    if (!this.enabled) return frame;
    if (agentAudible) this.hold();
    return performance.now() < this.#openAt ? new Int16Array(frame.length) : frame;
  }
}
