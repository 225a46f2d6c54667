/**
 * In-process stand-ins for what a session would otherwise need a room or a
 * provider for: a TTS that records what it was asked to say, and an audio
 * output that "plays" frames in real time and records what was played.
 *
 * agents-js ships `FakeLLM` and `FakeSTT` but no fake TTS or audio output
 * (docs/known-pitfalls.md), so these are written here, on the SDK's own base classes.
 *
 * @module
 */
import { type APIConnectOptions, tts, voice } from "@livekit/agents";
import type { JobLike } from "../../core/job_end.ts";
import { withTimeout } from "../../core/timeout.ts";
import { AudioFrame } from "@livekit/rtc-node";

/** Sample rate of {@link RecordingTTS}'s audio. */
export const FAKE_TTS_SAMPLE_RATE = 24_000;
const FRAME_MS = 20;

/** Deterministic synthesized duration for `text`: 5 ms per character, at least 100 ms, in whole 20 ms frames. */
export function fakeSpeechMs(text: string): number {
  return Math.ceil(Math.max(100, text.length * 5) / FRAME_MS) * FRAME_MS;
}

/** One synthesis request {@link RecordingTTS} received. */
export interface Synthesis {
  /** The text the agent asked to say. */
  text: string;
  /** Milliseconds of audio produced for it (0 when stalled). */
  producedMs: number;
}

/** A non-streaming TTS that records each text and answers with a tone of {@link fakeSpeechMs}. */
export class RecordingTTS extends tts.TTS {
  /** Label agents-js shows in logs and metrics. */
  label = "stand_in.RecordingTTS";
  /** Every synthesis, in order. */
  readonly syntheses: Synthesis[] = [];
  /** When it returns true for a text, synthesis never produces audio (until aborted). */
  stallWhen: (text: string) => boolean = () => false;

  /** Creates the TTS at {@link FAKE_TTS_SAMPLE_RATE}, mono, non-streaming. */
  constructor() {
    super(FAKE_TTS_SAMPLE_RATE, 1, { streaming: false });
  }

  /** Texts synthesized so far, in order. */
  get texts(): string[] {
    return this.syntheses.map((s) => s.text);
  }

  /** Starts a synthesis of `text`. */
  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    const synthesis: Synthesis = { text, producedMs: 0 };
    this.syntheses.push(synthesis);
    return new ToneStream(this, synthesis, this.stallWhen(text), connOptions, abortSignal);
  }

  /** Not used: the session wraps a non-streaming TTS in its own stream adapter. */
  stream(): tts.SynthesizeStream {
    throw new Error("RecordingTTS is non-streaming; agents-js wraps it in a StreamAdapter");
  }
}

class ToneStream extends tts.ChunkedStream {
  label = "stand_in.ToneStream";
  readonly #synthesis: Synthesis;
  readonly #stall: boolean;

  constructor(
    owner: RecordingTTS,
    synthesis: Synthesis,
    stall: boolean,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(synthesis.text, owner, connOptions, abortSignal);
    this.#synthesis = synthesis;
    this.#stall = stall;
  }

  protected async run(): Promise<void> {
    if (this.#stall) {
      // A provider that accepted the request and never answers.
      await new Promise<void>((resolve) => {
        if (this.abortSignal.aborted) return resolve();
        this.abortSignal.addEventListener("abort", () => resolve(), { once: true });
      });
      return;
    }
    const total = fakeSpeechMs(this.#synthesis.text);
    const samples = (FAKE_TTS_SAMPLE_RATE * FRAME_MS) / 1000;
    for (let at = 0; at < total; at += FRAME_MS) {
      const pcm = new Int16Array(samples);
      for (let i = 0; i < samples; i++) {
        pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / FAKE_TTS_SAMPLE_RATE));
      }
      this.#synthesis.producedMs += FRAME_MS;
      this.queue.put({
        requestId: "fake",
        segmentId: "fake",
        frame: new AudioFrame(pcm, FAKE_TTS_SAMPLE_RATE, 1, samples),
        final: at + FRAME_MS >= total,
      });
    }
  }
}

/** One segment (one utterance, ended by a flush or a clear) as the fake speaker played it. */
export interface PlayedSegment {
  /** Milliseconds of audio captured for the segment. */
  capturedMs: number;
  /** Milliseconds actually played before it finished or was cleared. */
  playedMs: number;
  /** True when the segment was cut short by `clearBuffer`. */
  interrupted: boolean;
  /** True once playout was reported finished to the session. */
  finished: boolean;
  /** When playout was reported finished (`performance.now()`). */
  endedAt?: number;
}

/**
 * An audio output that plays each segment in real time (a timer of the
 * segment's length after its flush) and records what was played.
 */
export class RecordingAudioOutput extends voice.AudioOutput {
  /** Every segment, in order. */
  readonly segments: PlayedSegment[] = [];
  /** When true, playout is never reported finished: a speaker that hangs. */
  neverFinish = false;
  #current?: PlayedSegment;
  #startedAt = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #pending?: PlayedSegment;

  /** Creates the output at the fake TTS's sample rate. */
  constructor() {
    super(FAKE_TTS_SAMPLE_RATE);
  }

  /** Buffers a frame into the current segment, starting playback on the first. */
  override async captureFrame(frame: AudioFrame): Promise<void> {
    const before = this.capturedPlayoutSegments;
    await super.captureFrame(frame);
    if (this.capturedPlayoutSegments > before) {
      this.#current = { capturedMs: 0, playedMs: 0, interrupted: false, finished: false };
      this.segments.push(this.#current);
      this.#startedAt = performance.now();
      this.onPlaybackStarted(Date.now());
    }
    if (this.#current) {
      this.#current.capturedMs += (frame.samplesPerChannel / frame.sampleRate) * 1000;
    }
  }

  /** Ends the segment; playout is reported when its audio has had time to play. */
  override flush(): void {
    super.flush();
    const segment = this.#current;
    this.#current = undefined;
    if (!segment || this.neverFinish) {
      if (segment) this.#pending = segment;
      return;
    }
    this.#pending = segment;
    const remaining = Math.max(0, segment.capturedMs - (performance.now() - this.#startedAt));
    this.#timer = setTimeout(() => this.#finish(segment, false), remaining);
  }

  /** Stops playback at once: the segment finishes as interrupted. */
  clearBuffer(): void {
    clearTimeout(this.#timer);
    const segment = this.#current ?? this.#pending;
    this.#current = undefined;
    if (segment && !segment.finished && this.pendingPlayoutSegments > 0) {
      this.#finish(segment, true);
    }
  }

  #finish(segment: PlayedSegment, interrupted: boolean): void {
    this.#pending = undefined;
    segment.finished = true;
    segment.endedAt = performance.now();
    segment.interrupted = interrupted;
    segment.playedMs = interrupted
      ? Math.min(segment.capturedMs, performance.now() - this.#startedAt)
      : segment.capturedMs;
    this.onPlaybackFinished({ playbackPosition: segment.playedMs / 1000, interrupted });
  }

  /** Cancels a pending playout timer (test clean-up). */
  dispose(): void {
    clearTimeout(this.#timer);
  }
}

/** Records what the job glue asks of the job; the job itself needs a LiveKit room. */
export class RecordingJob implements JobLike {
  /** Reasons passed to `shutdown`, in order. */
  shutdownReasons: string[] = [];
  /** Shutdown callbacks registered. */
  callbacks: (() => Promise<void>)[] = [];
  /** Rooms deleted. */
  roomsDeleted = 0;
  /** Times the agent left the room (`room.disconnect()`). */
  roomsLeft = 0;
  /** The room: leaving it is recorded. */
  readonly room = { disconnect: (): Promise<void> => this.leaveRoom() };
  /** Creates a job; `isFakeJob` true stands for console mode. */
  constructor(readonly isFakeJob = false) {}
  /** Records the agent leaving the room (what `room.disconnect()` does). */
  leaveRoom(): Promise<void> {
    this.roomsLeft++;
    return Promise.resolve();
  }
  /** Records the shutdown. */
  shutdown(reason = ""): void {
    this.shutdownReasons.push(reason);
  }
  /** Records the callback. */
  addShutdownCallback(callback: () => Promise<void>): void {
    this.callbacks.push(callback);
  }
  /** When the room was last deleted (`performance.now()`). */
  deletedAt?: number;
  /** Counts the deletion. */
  deleteRoom(): Promise<void> {
    this.roomsDeleted++;
    this.deletedAt = performance.now();
    return Promise.resolve();
  }
  /** Runs the registered callbacks in order, as agents-js does when the job ends. */
  async runShutdownCallbacks(): Promise<void> {
    for (const callback of this.callbacks) await callback();
  }
}

/**
 * A job whose `shutdown()` behaves as agents-js 1.9.0's job process does
 * (ipc/job_proc_lazy_main.ts, job_lifecycle.ts): it awaits the job's session
 * `close()` for up to 60 s (`finalizeSession`, `SESSION_CLOSE_TIMEOUT`), only
 * then disconnects from the room, and only then runs every shutdown callback
 * (in parallel, `runShutdownCallbacks`). So with a stuck close, nothing the
 * job glue left to agents-js happens for a minute. Leaving and deleting are
 * recorded as in {@link RecordingJob}.
 */
export class LibraryShutdownJob extends RecordingJob {
  /** agents-js's `SESSION_CLOSE_TIMEOUT` in job_lifecycle.ts. */
  static readonly SESSION_CLOSE_TIMEOUT_MS = 60_000;
  /** The job's primary session (`ctx._primaryAgentSession`); set once it exists. */
  session?: voice.AgentSession;
  /** Milestones of the shutdown, in ms since `shutdown()`. */
  readonly milestones: { closeReturned?: number; disconnected?: number; callbacksRun?: number } =
    {};
  #done?: Promise<void>;

  /** Starts agents-js's shutdown sequence (once), recording the reason. */
  override shutdown(reason = ""): void {
    super.shutdown(reason);
    this.#done ??= this.#run();
  }

  /** Resolves when the shutdown sequence has finished (at once if it never started). */
  finished(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  async #run(): Promise<void> {
    const t0 = performance.now();
    // The close event is handled on a later turn (once(closeEvent, 'close')).
    await Promise.resolve();
    if (this.session) {
      await withTimeout(this.session.close(), LibraryShutdownJob.SESSION_CLOSE_TIMEOUT_MS);
    }
    this.milestones.closeReturned = performance.now() - t0;
    await this.leaveRoom();
    this.milestones.disconnected = performance.now() - t0;
    await Promise.allSettled(this.callbacks.map((cb) => Promise.resolve().then(cb)));
    this.milestones.callbacksRun = performance.now() - t0;
  }
}
