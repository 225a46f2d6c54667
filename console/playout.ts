/**
 * Playout of the agent's speech on the broker side, driven by a real-time
 * clock. The clock is what decides when an `audio_playback_flush` may be
 * acknowledged, whether or not a speaker exists: the agent learns "played"
 * only once the audio's real duration has elapsed, like with `lk console`.
 * The one exception is text mode with nothing to play into (no sound card, no
 * recorder): there nobody hears the audio, so pacing it would only hold the
 * reply's text back by its spoken length; it is taken as played on arrival.
 *
 * @module
 */
/** Something that takes the samples as they play (a WAV writer, a recorder track). */
export interface PlayedSink {
  write(samples: Int16Array): void;
}

/** Where played samples go besides the clock (a sound card, for instance). */
export interface OutputDevice {
  /** Extra delay between handing samples over and hearing them, in ms. */
  readonly latencyMs: number;
  /** Queues mono 16-bit samples at the playout rate. */
  write(samples: Int16Array): void;
  /** Drops whatever is queued and not yet played. */
  clear(): void;
  /** Stops and releases the device. */
  close(): Promise<void>;
}

/** Options of {@link Playout}. */
export interface PlayoutOptions {
  /** Sample rate of what {@link Playout.write} receives (48 kHz on the wire). */
  sampleRate: number;
  /** Optional sound card; without one the clock alone paces playout (a null sink). */
  device?: OutputDevice;
  /** Optional recorders; receive exactly what was played, cleared audio excluded. */
  recorders?: PlayedSink[];
  /** Clock tick in ms (how often played audio is accounted). */
  tickMs?: number;
}

interface Chunk {
  samples: Int16Array;
  offset: number;
}

interface Drain {
  target: number;
  resolve: (played: boolean) => void;
}

/**
 * A paced output queue. `write` enqueues, `drain` resolves `true` once all
 * audio written before it has played (or at once if nothing is queued), and
 * `clear` drops the unplayed rest and resolves pending drains with `false`.
 */
export class Playout {
  readonly sampleRate: number;
  #device?: OutputDevice;
  readonly #recorders: PlayedSink[];
  readonly #tickMs: number;
  #queue: Chunk[] = [];
  #written = 0;
  #played = 0;
  #headStartedAt: number | undefined;
  #drains: Drain[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Total seconds of agent audio played (cleared audio excluded). */
  playedSeconds = 0;
  /** Total seconds of agent audio taken as played on arrival, unpaced (see {@link unpaced}). */
  unplayedSeconds = 0;
  /**
   * The console is in text mode. Without a device and without recorders the
   * audio is then taken as played when it arrives (see the module doc).
   */
  textMode = false;

  constructor(opts: PlayoutOptions) {
    this.sampleRate = opts.sampleRate;
    this.#device = opts.device;
    this.#recorders = opts.recorders ?? [];
    this.#tickMs = opts.tickMs ?? 20;
  }

  /** True when audio is taken as played on arrival: text mode, nothing to play it into. */
  get unpaced(): boolean {
    return this.textMode && !this.#device && this.#recorders.length === 0;
  }

  /** True while audio is queued and playing. */
  get playing(): boolean {
    return this.#queue.length > 0;
  }

  /**
   * Plays on `device` from now on (Ctrl+T opened the sound card mid-session);
   * what is queued keeps its clock. The caller closes the previous device.
   */
  setDevice(device: OutputDevice | undefined): void {
    this.#device?.clear();
    this.#device = device;
  }

  /** Enqueues mono 16-bit samples. */
  write(samples: Int16Array): void {
    if (this.#closed || samples.length === 0) return;
    this.#advance(performance.now());
    if (this.unpaced && this.#queue.length === 0) {
      this.#written += samples.length;
      this.#played += samples.length;
      this.unplayedSeconds += samples.length / this.sampleRate;
      this.#advance(performance.now());
      return;
    }
    if (this.#queue.length === 0) {
      // A device adds its buffer latency before the first sample is heard.
      this.#headStartedAt = performance.now() + (this.#device?.latencyMs ?? 0);
    }
    this.#queue.push({ samples, offset: 0 });
    this.#written += samples.length;
    this.#device?.write(samples);
    this.#ensureTimer();
  }

  /** Resolves `true` when everything written so far has played, `false` if cleared first. */
  drain(): Promise<boolean> {
    this.#advance(performance.now());
    if (this.#played >= this.#written || this.#closed) return Promise.resolve(!this.#closed);
    return new Promise((resolve) => {
      this.#drains.push({ target: this.#written, resolve });
      this.#ensureTimer();
    });
  }

  /** Drops unplayed audio (the agent was interrupted); pending drains resolve `false`. */
  clear(): void {
    this.#advance(performance.now());
    this.#queue = [];
    this.#played = this.#written;
    this.#headStartedAt = undefined;
    this.#device?.clear();
    for (const d of this.#drains.splice(0)) d.resolve(false);
    this.#stopTimer();
  }

  /** Stops the clock and the device; pending drains resolve `false`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.clear();
    this.#closed = true;
    await this.#device?.close();
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      this.#advance(performance.now());
      if (this.#queue.length === 0 && this.#drains.length === 0) this.#stopTimer();
    }, this.#tickMs);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #advance(now: number): void {
    if (this.#headStartedAt !== undefined && this.#queue.length > 0) {
      let due = Math.floor((now - this.#headStartedAt) * this.sampleRate / 1000);
      let consumed = 0;
      while (due > 0 && this.#queue.length > 0) {
        const head = this.#queue[0];
        const left = head.samples.length - head.offset;
        const take = Math.min(left, due);
        const played = head.samples.subarray(head.offset, head.offset + take);
        for (const r of this.#recorders) r.write(played);
        head.offset += take;
        due -= take;
        consumed += take;
        if (head.offset >= head.samples.length) this.#queue.shift();
      }
      this.#played += consumed;
      this.playedSeconds += consumed / this.sampleRate;
      // Move the reference forward by what was consumed, so rounding never drifts.
      this.#headStartedAt = this.#queue.length > 0
        ? this.#headStartedAt + consumed * 1000 / this.sampleRate
        : undefined;
    }
    if (this.#drains.length > 0) {
      this.#drains = this.#drains.filter((d) => {
        if (this.#played < d.target) return true;
        d.resolve(true);
        return false;
      });
    }
  }
}
