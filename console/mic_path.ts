/**
 * The way from a microphone (a sound card, or a replayed recording) to the
 * agent: paused in text mode, muted by `m` (silence keeps flowing, so the
 * agent's VAD still sees the user stop), echo-gated while the agent is
 * audible on speakers, measured for the level meter, and recorded for
 * `--record` exactly as sent.
 *
 * @module
 */
import { LevelMeter } from "./level_meter.ts";
import { EchoGate } from "./mic.ts";
import type { PcmSink } from "./recorder.ts";

/** Options of {@link MicPath}. */
export interface MicPathOptions {
  /** Sends one frame to the agent. */
  send: (frame: Int16Array) => void;
  /** True while the agent's audio is playing. */
  playing: () => boolean;
  /** Half-duplex gate on (speakers without echo cancellation); off for headsets and WAV input. */
  echoGate: boolean;
  /** Records what is sent (`--record`'s user side). */
  record?: PcmSink;
}

/** Frames in, frames to the agent out. */
export class MicPath {
  readonly meter = new LevelMeter();
  /** Text mode: nothing is sent (the agent's audio input is off). */
  paused = false;
  #muted = false;
  readonly #opts: MicPathOptions;
  readonly #gate: EchoGate;

  constructor(opts: MicPathOptions) {
    this.#opts = opts;
    this.#gate = new EchoGate(opts.echoGate);
  }

  /** True while muted. */
  get muted(): boolean {
    return this.#muted;
  }

  /** Mutes or unmutes; returns the new state. */
  toggleMute(): boolean {
    this.#muted = !this.#muted;
    return this.#muted;
  }

  /** One frame from the microphone. */
  push(frame: Int16Array): void {
    if (this.paused) return;
    if (!this.#muted) this.meter.push(frame);
    const out = this.#muted
      ? new Int16Array(frame.length)
      : this.#gate.pass(frame, this.#opts.playing());
    this.#opts.record?.write(out);
    this.#opts.send(out);
  }

  /** The status line's gauge: `MUTED`, or the level bar. */
  gauge(label: string): string {
    return this.#muted ? "MUTED (m)" : `${label} ${this.meter.render()}`;
  }
}
