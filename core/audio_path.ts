/**
 * One sample rate end to end for a call's audio: the room's input and output, the STT and the
 * TTS all at {@link CALL_SAMPLE_RATE}.
 *
 * Why: agents-js 1.9.0 reads the caller at 24 kHz and publishes at 24 kHz by default, while the
 * Inference STT, the Silero VAD and the Inference TTS all work at 16 kHz. Each mismatch is an
 * rtc-node `AudioResampler` on the job's JS thread: one FFI request (protobuf-encoded, then
 * decoded) per 10 ms frame for the STT, one for the VAD, and one per TTS frame on the way out.
 * At 16 kHz throughout, libwebrtc resamples once, natively, inside the audio track, and those
 * three resamplers are never created. 16 kHz is what the models hear and say anyway: a higher
 * room rate only carried upsampled audio.
 *
 * @module
 */
import type { voice } from "@livekit/agents";
import { PACED_QUEUE_MS } from "./paced_audio.ts";

/** The rate every stage of a call's audio runs at (the Inference STT's and TTS's own default). */
export const CALL_SAMPLE_RATE = 16_000;

type StartOptions = Parameters<voice.AgentSession["start"]>[0];

/** The room input options of a call: the caller's audio delivered at {@link CALL_SAMPLE_RATE}. */
export const ROOM_INPUT: NonNullable<StartOptions["inputOptions"]> = {
  audioSampleRate: CALL_SAMPLE_RATE,
};

/**
 * The room output options of a call: the agent's track published at {@link CALL_SAMPLE_RATE}, its
 * audio paced in this process and nothing sent between utterances (core/paced_audio.ts, installed
 * by prewarm).
 */
export const ROOM_OUTPUT: NonNullable<StartOptions["outputOptions"]> = {
  audioSampleRate: CALL_SAMPLE_RATE,
  queueSizeMs: PACED_QUEUE_MS,
};

/** How long each frame of the caller's audio is, as rtc-node delivers it to the agent. */
export const INPUT_FRAME_MS = 20;

interface FfiRequestLike {
  message?: { case?: string; value?: { frameSizeMs?: number } };
}
interface FfiClientLike {
  request<T>(req: FfiRequestLike): T;
}

let frameMs: number | undefined;

function patchClient(client: FfiClientLike): FfiClientLike {
  const request = client.request.bind(client);
  client.request = <T>(req: FfiRequestLike): T => {
    const m = req?.message;
    if (m?.case === "newAudioStream" && m.value && !m.value.frameSizeMs && frameMs) {
      m.value.frameSizeMs = frameMs;
    }
    return request<T>(req);
  };
  return client;
}

/**
 * Asks rtc-node for the caller's audio in frames of `ms` (default {@link INPUT_FRAME_MS})
 * instead of its default 10 ms, in this process.
 *
 * Why: every frame is one FFI event (protobuf-decoded on the job's JS thread), then a hop
 * through each web stream between the track and the models (agents-js's resampling pass-through,
 * its input multiplexer, the tee to the VAD and the STT), a write into the STT's chunker and a
 * merge in Silero's window. Twice the length halves all of them; the VAD still runs on its own
 * 32 ms windows and the STT still sends 50 ms chunks, so what the models hear is unchanged, 10 ms
 * later at most. agents-js creates the stream itself and offers no frame-size option, so the
 * request rtc-node sends for it is given one: only audio streams that asked for none, only in
 * this process. rtc-node keeps its FFI client in `globalThis._ffiClientInstance`, created on
 * first use; the property is watched until then. Upstream change that makes this unnecessary:
 * a frame-size field in agents-js's `RoomInputOptions`, passed to `new AudioStream(...)`.
 */
export function installInputFrameSize(ms = INPUT_FRAME_MS): void {
  const g = globalThis as { _ffiClientInstance?: FfiClientLike };
  if (frameMs !== undefined) {
    frameMs = ms;
    return;
  }
  frameMs = ms;
  if (g._ffiClientInstance) {
    patchClient(g._ffiClientInstance);
    return;
  }
  let client: FfiClientLike | undefined;
  Object.defineProperty(globalThis, "_ffiClientInstance", {
    configurable: true,
    get: () => client,
    set: (value: FfiClientLike | undefined) => {
      client = value ? patchClient(value) : value;
    },
  });
}
