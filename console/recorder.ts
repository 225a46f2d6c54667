/**
 * `--record DIR`: both sides of a session as WAV files on one timeline.
 *
 * - `DIR/user.wav`: what the agent heard from this console (microphone or
 *   `--input-wav` frames as sent, muted and echo-gated stretches as silence),
 *   so it can be replayed with `--input-wav DIR/user.wav`;
 * - `DIR/agent.wav`: what the agent said, as played (interrupted speech cut
 *   where it stopped).
 *
 * Both start at the same instant (the agent connecting) and are padded with
 * silence to the same end, so they line up sample for sample: play them
 * together, or mix them (`sox -M DIR/user.wav DIR/agent.wav both.wav`).
 * A side that never had audio (the user side of a typed session) is not
 * written.
 *
 * @module
 */
import { WavError, WavWriter } from "./wav.ts";

/** Something that takes mono 16-bit samples as they play. */
export interface PcmSink {
  write(samples: Int16Array): void;
}

/**
 * One side of the recording: samples land where the wall clock says they
 * ended, with silence written for the gaps; late samples are appended, never
 * moved back (a track never drifts behind by more than one write).
 */
export class TimelineTrack implements PcmSink {
  readonly path: string;
  readonly #rate: number;
  #t0: number;
  readonly #now: () => number;
  #writer?: WavWriter;
  #written = 0;
  #closed = false;

  constructor(path: string, rate: number, t0: number, now: () => number = () => performance.now()) {
    this.path = path;
    this.#rate = rate;
    this.#t0 = t0;
    this.#now = now;
  }

  /** Moves the start of the timeline to `t0` (ms); only before the first write. */
  startAt(t0: number): void {
    if (!this.#writer) this.#t0 = t0;
  }

  /** True once any audio was written. */
  get used(): boolean {
    return this.#writer !== undefined;
  }

  /** Seconds on the track so far. */
  get seconds(): number {
    return this.#written / this.#rate;
  }

  /** Appends `samples`, which finished playing just now. */
  write(samples: Int16Array): void {
    if (this.#closed || samples.length === 0) return;
    this.#writer ??= WavWriter.create(this.path, this.#rate);
    this.#padTo(this.#position() - samples.length);
    this.#writer.write(samples);
    this.#written += samples.length;
  }

  /** Pads the track with silence up to `until` (ms, same clock) and closes it; idempotent. */
  close(until = this.#now()): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#writer) return;
    this.#padTo(Math.round((until - this.#t0) * this.#rate / 1000));
    this.#writer.close();
  }

  #position(): number {
    return Math.round((this.#now() - this.#t0) * this.#rate / 1000);
  }

  #padTo(sample: number): void {
    const gap = sample - this.#written;
    if (gap <= 0) return;
    const chunk = new Int16Array(Math.min(gap, this.#rate));
    for (let left = gap; left > 0; left -= chunk.length) {
      this.#writer!.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    this.#written += gap;
  }
}

/** The two tracks of `--record DIR`. */
export class SessionRecorder {
  readonly dir: string;
  readonly user: TimelineTrack;
  readonly agent: TimelineTrack;
  readonly #now: () => number;

  private constructor(dir: string, rate: number, now: () => number) {
    this.dir = dir;
    this.#now = now;
    this.user = new TimelineTrack(`${dir}/user.wav`, rate, now(), now);
    this.agent = new TimelineTrack(`${dir}/agent.wav`, rate, now(), now);
  }

  /** Starts the shared timeline now (the agent connected). */
  begin(): void {
    const t0 = this.#now();
    this.user.startAt(t0);
    this.agent.startAt(t0);
  }

  /**
   * Creates DIR (and its parents) if needed and checks it can be written;
   * the files themselves are created on their first audio.
   * @throws {WavError} with one sentence for a path that cannot be used.
   */
  static create(dir: string, rate: number, now?: () => number): SessionRecorder {
    try {
      Deno.mkdirSync(dir, { recursive: true });
      const probe = `${dir}/.exit-message-record-${crypto.randomUUID()}`;
      Deno.writeFileSync(probe, new Uint8Array());
      Deno.removeSync(probe);
    } catch (e) {
      const why = e instanceof Deno.errors.AlreadyExists
        ? "it is a file"
        : e instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : (e as Error).message;
      throw new WavError(`--record ${dir} cannot be used (${why}); pick another folder`);
    }
    return new SessionRecorder(dir, rate, now ?? (() => performance.now()));
  }

  /** Pads both tracks to the same end and closes them; returns the files written. */
  close(): string[] {
    const end = this.#now();
    this.user.close(end);
    this.agent.close(end);
    return [this.user, this.agent].filter((t) => t.used).map((t) => t.path);
  }
}
