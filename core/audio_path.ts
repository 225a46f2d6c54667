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

/** The rate every stage of a call's audio runs at (the Inference STT's and TTS's own default). */
export const CALL_SAMPLE_RATE = 16_000;

type StartOptions = Parameters<voice.AgentSession["start"]>[0];

/** The room input options of a call: the caller's audio delivered at {@link CALL_SAMPLE_RATE}. */
export const ROOM_INPUT: NonNullable<StartOptions["inputOptions"]> = {
  audioSampleRate: CALL_SAMPLE_RATE,
};

/** The room output options of a call: the agent's track published at {@link CALL_SAMPLE_RATE}. */
export const ROOM_OUTPUT: NonNullable<StartOptions["outputOptions"]> = {
  audioSampleRate: CALL_SAMPLE_RATE,
};
