/**
 * The agent's track sends nothing while the agent is silent: its audio is paced in real time here,
 * and the track is muted between utterances.
 *
 * Why: agents-js publishes the agent's voice through an rtc-node `AudioSource` with a native queue
 * (200 ms). libwebrtc's source behind it (`AudioTrackSource`, webrtc-sys `audio_track.cpp`) then
 * feeds the track a 10 ms frame every 10 ms for the whole call, zeros when the queue is empty, and
 * libwebrtc's Opus encoder encodes every one of them. Silence was most of what a call's track
 * carried, and its encoding was the largest native cost of a call (0.03 cores a call, measured in
 * docs/density.md). An `AudioSource` created with a queue of 0 has no such timer: each frame goes
 * to the encoder when it is captured, and nothing goes when nothing is captured. What the queue did
 * is done here instead, per source: the agent's audio is cut into 10 ms frames and sent in real
 * time (at most {@link LEAD_MS} ahead), with the same 200 ms of backpressure towards agents-js;
 * a gap in the middle of speech is filled with silence, as the native queue did.
 *
 * Why the mute: libwebrtc stamps RTP timestamps by counting samples, so audio that resumes after
 * a pause carries timestamps that lag the wall clock by the pause, and the listener's jitter buffer
 * takes the lag as delay (measured: 0.7 s more latency after a 3 s pause). A publisher's mute is
 * what LiveKit's server re-anchors on: on the first packet after an unmute its forwarder stamps the
 * audio by the wall clock. So {@link IDLE_MS} after its last audio (silence sent meanwhile, so the
 * listener's decoder fades out on silence, not on a cut-off syllable) the track is muted, and
 * unmuted before its next audio. Listeners see the agent's track muted between utterances.
 *
 * agents-js creates the source itself, so this is a narrow override of rtc-node's `AudioSource`:
 * only sources created with a queue of {@link PACED_QUEUE_MS} (what `ROOM_OUTPUT` asks for, see
 * core/audio_path.ts) are paced; every other source keeps rtc-node's own behaviour. Upstream change
 * that makes this unnecessary: a native source that sends nothing while its queue is empty (and
 * keeps RTP timestamps on the wall clock), or a `queueSizeMs` of 0 honoured by agents-js's output.
 *
 * @module
 */
import {
  AudioFrameBufferInfo,
  CaptureAudioFrameRequest,
  FfiRequest,
  livekitFfiRequest,
  LocalTrackMuteRequest,
} from "@livekit/rtc-ffi-bindings";
import { type AudioFrame, AudioSource, LocalAudioTrack } from "@livekit/rtc-node";
import { log } from "./log.ts";

/** The queue size (ms) that asks for a paced source (rtc-node alone would send it all at once). */
export const PACED_QUEUE_MS = 0;
/** The length of each frame sent: what libwebrtc's unqueued capture path takes. */
export const FRAME_MS = 10;
/** How far ahead of real time frames are sent: room for the timer's jitter. */
export const LEAD_MS = 30;
/** How often the pacer wakes while it sends: two frames a wake. */
export const TICK_MS = 20;
/** Silence sent after the last audio before the track is muted (the listener fades out on it). */
export const IDLE_MS = 300;
/** Audio accepted ahead of what was sent before `captureFrame` waits: agents-js's native queue. */
export const QUEUE_MS = 200;

/** Time as the pacer sees it (real in a call, driven by hand in tests). */
export interface PacerClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** Where a pacer's frames go. */
export interface PacerSink {
  /** Sends one frame of {@link FRAME_MS} (taken at once: the frame may be reused after). */
  send(frame: Int16Array): void;
  /** Mutes or unmutes the track (never throws). */
  setMuted(muted: boolean): void;
  /** Told when the track is muted: how the stretch of sending went. */
  idle?(run: PacedRun): void;
}

/** One stretch of sending, from the first audio to the mute. */
export interface PacedRun {
  /** Audio and silence sent, in ms. */
  sentMs: number;
  /**
   * The most a frame went out behind its time (the event loop was busy). Past the listener's
   * jitter buffer (tens of ms) that is a gap the listener's decoder conceals.
   */
  maxLateMs: number;
}

/** Lateness (ms) past which a stretch is logged at info: a listener may have heard a gap. */
export const LATE_MS = 60;

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Real-time pacing of one source's audio: {@link push} queues samples (interleaved), the pacer
 * sends them in {@link FRAME_MS} frames, silence fills a gap, and the track is muted after
 * {@link IDLE_MS} without audio.
 */
export class Pacer {
  readonly #sink: PacerSink;
  readonly #clock: PacerClock;
  readonly #frameSamples: number;
  readonly #samplesPerMs: number;
  #chunks: Int16Array[] = [];
  #head = 0; // samples of #chunks[0] already taken
  #queued = 0;
  #running = false;
  #muted = false;
  #closed = false;
  #idleFrames = 0;
  #space: (() => void)[] = [];
  #drained: (() => void)[] = [];
  // When the listener is done playing what was sent (sent ahead, or late in a burst after a stall,
  // it still plays in real time), and when it will be done with the last audio.
  #playhead = 0;
  #playedAt = 0;

  /** A pacer of `sampleRate` Hz, `channels` interleaved, sending to `sink`. */
  constructor(sampleRate: number, channels: number, sink: PacerSink, clock = realClock) {
    this.#sink = sink;
    this.#clock = clock;
    this.#samplesPerMs = sampleRate * channels / 1000;
    this.#frameSamples = this.#samplesPerMs * FRAME_MS;
  }

  /** Audio queued and not yet sent, in ms. */
  get queuedMs(): number {
    return this.#queued / this.#samplesPerMs;
  }

  /** Whether the track is muted now. */
  get muted(): boolean {
    return this.#muted;
  }

  /** Queues `samples`; resolves once no more than {@link QUEUE_MS} is waiting to be sent. */
  push(samples: Int16Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("AudioSource is closed"));
    if (samples.length === 0) return Promise.resolve();
    this.#chunks.push(samples.slice());
    this.#queued += samples.length;
    this.#start();
    if (this.queuedMs <= QUEUE_MS) return Promise.resolve();
    return new Promise((resolve) => this.#space.push(resolve));
  }

  /**
   * Resolves once every queued sample has been sent and its time has passed: when a listener
   * has played it, not when the last frame left (which may be ahead of time, or a burst after a
   * stall). At once when it was dropped by {@link clear}.
   */
  drained(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#queued === 0) return this.#untilPlayed();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #untilPlayed(): Promise<void> {
    const wait = this.#playedAt - this.#clock.now();
    return wait > 0 && !this.#closed ? this.#clock.sleep(wait) : Promise.resolve();
  }

  /** Drops what is queued (an interruption); the pacer goes on with silence, then mutes. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#queued = 0;
    this.#playedAt = 0;
    this.#release();
  }

  /** Stops: nothing more is sent, every waiter is released. */
  close(): void {
    this.#closed = true;
    this.clear();
  }

  #release(): void {
    if (this.queuedMs <= QUEUE_MS || this.#closed) {
      for (const resolve of this.#space.splice(0)) resolve();
    }
    if (this.#queued === 0) {
      for (const resolve of this.#drained.splice(0)) void this.#untilPlayed().then(resolve);
    }
  }

  #start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#idleFrames = 0;
    if (this.#muted) {
      this.#muted = false;
      this.#sink.setMuted(false);
    }
    this.#run().catch((error) => {
      this.#running = false;
      log().warn({ error: String(error) }, "the agent's audio could not be sent");
      this.close();
    });
  }

  #nextFrame(): Int16Array {
    const frame = new Int16Array(this.#frameSamples);
    let filled = 0;
    while (filled < frame.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(frame.length - filled, chunk.length - this.#head);
      frame.set(chunk.subarray(this.#head, this.#head + take), filled);
      filled += take;
      this.#head += take;
      if (this.#head === chunk.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#queued -= filled;
    // A frame cut short by an empty queue is padded: the source takes whole frames only.
    this.#idleFrames = filled === 0 ? this.#idleFrames + 1 : 0;
    return frame;
  }

  async #run(): Promise<void> {
    const t0 = this.#clock.now();
    let sent = 0;
    let maxLateMs = 0;
    while (!this.#closed) {
      // Every frame whose time has come, up to LEAD_MS ahead; a late wake catches up at once,
      // which keeps the stream on the wall clock.
      const now = this.#clock.now();
      const due = Math.floor((now - t0 + LEAD_MS) / FRAME_MS) + 1;
      maxLateMs = Math.max(maxLateMs, now - (t0 + sent * FRAME_MS));
      while (sent < due && !this.#closed) {
        const frame = this.#nextFrame();
        this.#sink.send(frame);
        sent++;
        this.#playhead = Math.max(this.#playhead, this.#clock.now()) + FRAME_MS;
        if (this.#idleFrames === 0) this.#playedAt = this.#playhead;
        this.#release();
        if (this.#idleFrames * FRAME_MS >= IDLE_MS) {
          this.#running = false;
          this.#muted = true;
          this.#sink.setMuted(true);
          this.#sink.idle?.({ sentMs: sent * FRAME_MS, maxLateMs: Math.round(maxLateMs) });
          return;
        }
      }
      await this.#clock.sleep(
        Math.max(0, t0 + sent * FRAME_MS - LEAD_MS + TICK_MS - FRAME_MS - this.#clock.now()),
      );
    }
    this.#running = false;
  }
}

const pacers = new WeakMap<AudioSource, Pacer>();
const tracks = new WeakMap<AudioSource, LocalAudioTrack>();
let installed = false;

interface FfiClientLike {
  request<T>(req: unknown): T;
  retrievePtr(data: Uint8Array): bigint;
}

/** rtc-node's own `AudioSource` members, as they were before {@link installPacedAudio}. */
export const originalAudioSource = {
  captureFrame: AudioSource.prototype.captureFrame,
  clearQueue: AudioSource.prototype.clearQueue,
  waitForPlayout: AudioSource.prototype.waitForPlayout,
  close: AudioSource.prototype.close,
  queuedDuration: Object.getOwnPropertyDescriptor(AudioSource.prototype, "queuedDuration")!.get!,
  createAudioTrack: LocalAudioTrack.createAudioTrack,
};

function setTrackMuted(source: AudioSource, muted: boolean): void {
  const track = tracks.get(source);
  const ffi = (globalThis as { _ffiClientInstance?: FfiClientLike })._ffiClientInstance;
  if (!track || !ffi) return;
  try {
    ffi.request({
      message: {
        case: "localTrackMute",
        value: new LocalTrackMuteRequest({ trackHandle: track.ffi_handle.handle, mute: muted }),
      },
    });
  } catch (error) {
    // A track already unpublished (the call is ending) cannot be muted; nothing is sent anyway.
    log().debug({ error: String(error), muted }, "the agent's track could not be (un)muted");
  }
}

/**
 * The sink of a paced rtc-node source: each frame is copied into one buffer of the source's own
 * and handed to the FFI by one request, encoded once.
 *
 * Why not rtc-node's `captureFrame` per frame: it encodes a protobuf request, decodes the
 * response, waits for the callback with a listener, and arms a timer, for every 10 ms frame of
 * every call (measured: the JS thread's cost ate the encoder's saving). With no queue the FFI
 * copies the samples before the request returns (livekit-ffi `server/audio_source.rs`, 0.12.73),
 * so one buffer, at one address, serves every frame, and the request's bytes never change; the
 * FFI's single audio thread takes the frames in the order they were requested.
 */
function ffiSink(source: AudioSource): PacerSink {
  const rate = source.sampleRate;
  const channels = source.numChannels;
  // An ArrayBuffer of its own: V8 keeps it off its heap, at one address for its life.
  const samples = new Int16Array(new ArrayBuffer(rate * channels * FRAME_MS / 1000 * 2));
  const ffi = (globalThis as { _ffiClientInstance?: FfiClientLike })._ffiClientInstance!;
  const request = new FfiRequest({
    message: {
      case: "captureAudioFrame",
      value: new CaptureAudioFrameRequest({
        sourceHandle: source.ffiHandle.handle,
        buffer: new AudioFrameBufferInfo({
          dataPtr: ffi.retrievePtr(new Uint8Array(samples.buffer)),
          sampleRate: rate,
          numChannels: channels,
          samplesPerChannel: samples.length / channels,
        }),
      }),
    },
  }).toBinary();
  return {
    send: (frame) => {
      samples.set(frame);
      livekitFfiRequest(request);
    },
    setMuted: (muted) => setTrackMuted(source, muted),
    idle: (run) => {
      if (run.maxLateMs > LATE_MS) {
        log().info(
          run,
          "the agent's audio went out late (the event loop was busy): the caller may have heard a gap",
        );
      } else {
        log().debug(run, "the agent's track is silent: muted");
      }
    },
  };
}

function pacerOf(source: AudioSource): Pacer {
  let pacer = pacers.get(source);
  if (!pacer) {
    pacer = new Pacer(source.sampleRate, source.numChannels, ffiSink(source));
    pacers.set(source, pacer);
  }
  return pacer;
}

const isPaced = (source: AudioSource) => source.queueSize === PACED_QUEUE_MS;

/**
 * Paces every rtc-node `AudioSource` created with a queue of {@link PACED_QUEUE_MS} in this
 * process (see the module's comment). Idempotent.
 */
export function installPacedAudio(): void {
  if (installed) return;
  installed = true;
  const proto = AudioSource.prototype;
  proto.captureFrame = function (this: AudioSource, frame: AudioFrame) {
    if (!isPaced(this)) return originalAudioSource.captureFrame.call(this, frame);
    return pacerOf(this).push(frame.data);
  };
  proto.clearQueue = function (this: AudioSource) {
    if (!isPaced(this)) return originalAudioSource.clearQueue.call(this);
    pacers.get(this)?.clear();
  };
  proto.waitForPlayout = function (this: AudioSource) {
    if (!isPaced(this)) return originalAudioSource.waitForPlayout.call(this);
    return pacers.get(this)?.drained() ?? Promise.resolve();
  };
  proto.close = function (this: AudioSource) {
    if (isPaced(this)) pacers.get(this)?.close();
    return originalAudioSource.close.call(this);
  };
  Object.defineProperty(proto, "queuedDuration", {
    configurable: true,
    get(this: AudioSource) {
      if (!isPaced(this)) return originalAudioSource.queuedDuration.call(this);
      return pacers.get(this)?.queuedMs ?? 0;
    },
  });
  LocalAudioTrack.createAudioTrack = (name: string, source: AudioSource) => {
    const track = originalAudioSource.createAudioTrack.call(LocalAudioTrack, name, source);
    if (isPaced(source)) tracks.set(source, track);
    return track;
  };
}
