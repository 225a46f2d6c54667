/**
 * One caller in a LiveKit room, on `@livekit/rtc-node`: it joins with its own token, keeps a
 * microphone track open (silence, paced in real time by the native audio source, as a real
 * microphone would send), speaks the simulation's synthetic voice on request, listens to the
 * agent, records what it hears, and notes its own disconnect reason.
 *
 * Runs inside a caller process (`main.ts`); the test drives it through `mod.ts`.
 *
 * @module
 */
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  DisconnectReason,
  LocalAudioTrack,
  ParticipantKind,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { synthesizeVoice } from "../../../simulation/mod.ts";
import { CALLER_SAMPLE_RATE, type CallerEvent, epochMs } from "./protocol.ts";

const FRAME_SAMPLES = CALLER_SAMPLE_RATE / 50; // 20 ms, as a WebRTC microphone sends
/** RMS (int16 scale) above which a received 10 ms frame counts as agent speech. */
export const HEARD_THRESHOLD = 300;
/** Silence that ends a heard stretch; the synthetic voice pauses up to ~120 ms between words. */
export const HEARD_GAP_MS = 250;
// The native queue absorbs this process's scheduling hiccups: on a loaded machine a starved
// caller would otherwise leave gaps inside what it says (the audio device pulls 10 ms every
// 10 ms whether the queue holds any), stretching an utterance the STT then measures. When each
// utterance ends is taken from the queue's own bookkeeping, so the depth costs no accuracy.
const MIC_QUEUE_MS = 200;

/** A caller: construct, `join`, then `say` / `hangup`. */
export class Participant {
  readonly id: string;
  readonly #emit: (event: CallerEvent) => void;
  readonly #room = new Room();
  #source?: AudioSource;
  #pending: Int16Array[] = [];
  #speaking?: { text: string; startAt?: number; resolve: () => void };
  #micLoop?: Promise<void>;
  #listening: Promise<void>[] = [];
  #closed = false;
  #heard: Int16Array[] = [];
  #heardSamples = 0;
  #heardStartAt?: number;
  #stretch?: { startAt: number; lastLoudEnd: number };
  /**
   * Audio tracks listened to so far, numbered in order, and when each last delivered a frame: the
   * recording follows the newest track still delivering (see {@link #listen}).
   */
  #tracks = 0;
  #recordedTrack = 0;
  #lastFrameAt = new Map<number, number>();

  constructor(id: string, emit: (event: CallerEvent) => void) {
    this.id = id;
    this.#emit = emit;
  }

  /** Joins the room, publishes the microphone and starts listening to every audio track. */
  async join(url: string, token: string): Promise<void> {
    const room = this.#room;
    room.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) => {
      this.#emit({
        ev: "participant_joined",
        id: this.id,
        identity: p.identity,
        kind: ParticipantKind[p.info?.kind ?? 0] ?? String(p.info?.kind),
        at: epochMs(),
      });
    });
    room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      this.#emit({ ev: "participant_left", id: this.id, identity: p.identity, at: epochMs() });
    });
    room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, p: RemoteParticipant) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      this.#emit({ ev: "subscribed", id: this.id, identity: p.identity, at: epochMs() });
      this.#listening.push(this.#listen(track));
    });
    // The agent's track muted between its utterances, unmuted before each.
    const mutes = (muted: boolean) => (_pub: unknown, p: { identity: string }) => {
      if (p.identity === room.localParticipant?.identity) return;
      this.#emit({ ev: "track_muted", id: this.id, identity: p.identity, muted, at: epochMs() });
    };
    room.on(RoomEvent.TrackMuted, mutes(true));
    room.on(RoomEvent.TrackUnmuted, mutes(false));
    // A data message (the call keeper's notice before it hangs the caller up).
    room.on(RoomEvent.DataReceived, (payload: Uint8Array, _p, _kind, topic?: string) => {
      this.#emit({
        ev: "data",
        id: this.id,
        topic: topic ?? "",
        text: new TextDecoder().decode(payload),
        at: epochMs(),
      });
    });
    // Someone (the agent) subscribed to the microphone: from now on what is said reaches it.
    room.on(RoomEvent.LocalTrackSubscribed, () => {
      this.#emit({ ev: "mic_subscribed", id: this.id, at: epochMs() });
    });
    room.on(RoomEvent.Disconnected, (reason: DisconnectReason) => {
      this.#closeStretch();
      this.#emit({
        ev: "disconnected",
        id: this.id,
        reason: DisconnectReason[reason] ?? String(reason),
        at: epochMs(),
      });
      void this.#stopMic();
    });
    await room.connect(url, token, { autoSubscribe: true, dynacast: false });
    this.#emit({
      ev: "joined",
      id: this.id,
      room: room.name ?? "",
      identity: room.localParticipant?.identity ?? "",
      at: epochMs(),
    });
    const source = new AudioSource(CALLER_SAMPLE_RATE, 1, MIC_QUEUE_MS);
    this.#source = source;
    const track = LocalAudioTrack.createAudioTrack("microphone", source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await room.localParticipant!.publishTrack(track, options);
    this.#micLoop = this.#runMic(source);
  }

  /** Speaks `text` in the synthetic voice (at `pitchHz`); resolves once its last frame is queued. */
  say(text: string, pitchHz?: number): Promise<void> {
    if (this.#speaking) throw new Error(`caller ${this.id} is already speaking`);
    const pcm = synthesizeVoice(text, CALLER_SAMPLE_RATE, pitchHz);
    for (let i = 0; i < pcm.length; i += FRAME_SAMPLES) {
      const frame = new Int16Array(FRAME_SAMPLES);
      frame.set(pcm.subarray(i, Math.min(i + FRAME_SAMPLES, pcm.length)));
      this.#pending.push(frame);
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#speaking = { text, resolve };
    return promise;
  }

  /** Leaves the room (the caller hangs up). */
  async hangup(): Promise<void> {
    await this.#stopMic();
    if (this.#room.isConnected) await this.#room.disconnect();
  }

  /** Everything heard so far, 48 kHz mono, and the epoch time of its first sample. */
  recording(): { startAt: number; samples: Int16Array } {
    const out = new Int16Array(this.#heardSamples);
    let off = 0;
    for (const chunk of this.#heard) {
      out.set(chunk, off);
      off += chunk.length;
    }
    return { startAt: this.#heardStartAt ?? 0, samples: out };
  }

  /** Hangs up if needed and waits for the microphone and listeners to stop. */
  async close(): Promise<void> {
    await this.hangup();
    await Promise.allSettled(this.#listening);
  }

  async #runMic(source: AudioSource): Promise<void> {
    const silence = new Int16Array(FRAME_SAMPLES);
    while (!this.#closed) {
      const speech = this.#pending.shift();
      if (speech && this.#speaking && this.#speaking.startAt === undefined) {
        this.#speaking.startAt = epochMs() + source.queuedDuration;
      }
      try {
        // Resolves when the native queue took the frame: this loop runs in real time.
        await source.captureFrame(
          new AudioFrame(speech ?? silence, CALLER_SAMPLE_RATE, 1, FRAME_SAMPLES),
        );
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
      if (speech && this.#pending.length === 0 && this.#speaking) {
        const { text, startAt, resolve } = this.#speaking;
        this.#speaking = undefined;
        // The frame is queued, not yet sent: it reaches the wire once the queue ahead of it has.
        this.#emit({
          ev: "said",
          id: this.id,
          text,
          startAt: startAt!,
          endAt: epochMs() + source.queuedDuration,
        });
        resolve();
      }
    }
  }

  async #stopMic(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#speaking?.resolve();
    await this.#micLoop?.catch(() => {});
    await this.#source?.close();
  }

  async #listen(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, { sampleRate: CALLER_SAMPLE_RATE, numChannels: 1 });
    const trackNo = ++this.#tracks;
    for await (const frame of stream) {
      // More than one agent track (an agent replaced mid-call, or a second agent that leaves
      // again): a subscribed track delivers frames, silent ones too, until it ends, so the
      // recording follows the newest track that delivered within the last few frames, and is
      // not written over by another's.
      const now = epochMs();
      this.#lastFrameAt.set(trackNo, now);
      if (trackNo !== this.#currentTrack(now)) continue;
      const samples = new Int16Array(frame.data);
      if (trackNo !== this.#recordedTrack) {
        this.#recordedTrack = trackNo;
        this.#padTo(now - (samples.length / CALLER_SAMPLE_RATE) * 1000);
      }
      this.#heardStartAt ??= now - (samples.length / CALLER_SAMPLE_RATE) * 1000;
      this.#heard.push(samples);
      this.#heardSamples += samples.length;
      let sum = 0;
      for (const v of samples) sum += v * v;
      const loud = Math.sqrt(sum / Math.max(1, samples.length)) >= HEARD_THRESHOLD;
      const frameStart = now - (samples.length / CALLER_SAMPLE_RATE) * 1000;
      if (loud) {
        if (!this.#stretch) {
          this.#stretch = { startAt: frameStart, lastLoudEnd: now };
          this.#emit({ ev: "heard_start", id: this.id, at: frameStart });
        }
        this.#stretch.lastLoudEnd = now;
      } else if (this.#stretch && now - this.#stretch.lastLoudEnd >= HEARD_GAP_MS) {
        this.#closeStretch();
      }
    }
    this.#lastFrameAt.delete(trackNo);
  }

  /** The newest track that delivered a frame in the last {@link HEARD_GAP_MS}. */
  #currentTrack(now: number): number {
    let current = 0;
    for (const [no, at] of this.#lastFrameAt) {
      if (now - at < HEARD_GAP_MS && no > current) current = no;
    }
    return current;
  }

  /**
   * Keeps the recording on the wall clock across a change of track (nothing of the new one was
   * recorded before): silence up to `at`, epoch ms. Within one track the frames are contiguous.
   */
  #padTo(at: number): void {
    if (this.#heardStartAt === undefined) return;
    const endAt = this.#heardStartAt + (this.#heardSamples / CALLER_SAMPLE_RATE) * 1000;
    const gap = Math.round(((at - endAt) / 1000) * CALLER_SAMPLE_RATE);
    if (gap <= 0) return;
    this.#heard.push(new Int16Array(gap));
    this.#heardSamples += gap;
  }

  #closeStretch(): void {
    if (!this.#stretch) return;
    const { startAt, lastLoudEnd } = this.#stretch;
    this.#stretch = undefined;
    this.#emit({ ev: "heard", id: this.id, startAt, endAt: lastLoudEnd });
  }
}
