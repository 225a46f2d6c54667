/**
 * What the test says to a caller process and what the caller reports back: one JSON object per
 * line, commands on the caller's stdin, events on its stdout. One process can hold several
 * callers (the load benchmark), each named by `id`.
 *
 * Every time is epoch milliseconds with sub-millisecond precision
 * (`performance.timeOrigin + performance.now()`), so times from different processes compare.
 *
 * @module
 */

/** Commands, test -> caller process. */
export type CallerCommand =
  | {
    op: "join";
    /** Caller id, chosen by the test. */
    id: string;
    /** `ws://127.0.0.1:PORT` of the LiveKit server. */
    url: string;
    /** Access token with `roomJoin` for the room. */
    token: string;
  }
  | {
    op: "say";
    id: string;
    /** Rendered with the simulation's synthetic voice. */
    text: string;
    /**
     * The voice's pitch: a phrasebook phrase's own, so the simulated STT recognizes it (undefined:
     * the default voice). Required, so that no sender forgets it: `CallerProcess.pitchOf`.
     */
    pitchHz: number | undefined;
  }
  | { op: "hangup"; id: string }
  | {
    op: "save";
    id: string;
    /** Where to write everything heard so far, as a 48 kHz mono WAV. */
    path: string;
  }
  | { op: "quit" };

/** Events, caller process -> test. */
export type CallerEvent =
  | { ev: "ready"; pid: number }
  | { ev: "joined"; id: string; room: string; identity: string; at: number }
  | {
    ev: "participant_joined";
    id: string;
    identity: string;
    /** `AGENT` for an agent participant. */
    kind: string;
    at: number;
  }
  | { ev: "participant_left"; id: string; identity: string; at: number }
  | { ev: "subscribed"; id: string; identity: string; at: number }
  | {
    ev: "mic_subscribed";
    id: string;
    /** When a remote participant (the agent) subscribed to the caller's microphone. */
    at: number;
  }
  | {
    ev: "track_muted";
    id: string;
    /** Whose audio track: the agent's mutes its track between utterances (core/paced_audio.ts). */
    identity: string;
    /** `true` when muted, `false` when unmuted. */
    muted: boolean;
    at: number;
  }
  | { ev: "heard_start"; id: string; at: number }
  | {
    ev: "heard";
    id: string;
    /** First and last loud 10 ms frame of a stretch of agent audio (gaps under 250 ms kept). */
    startAt: number;
    endAt: number;
  }
  | { ev: "said"; id: string; text: string; startAt: number; endAt: number }
  | {
    ev: "data";
    id: string;
    /** The data packet's topic (e.g. the call keeper's `exit-message.notice`). */
    topic: string;
    /** Its payload as UTF-8 text. */
    text: string;
    at: number;
  }
  | {
    ev: "disconnected";
    id: string;
    /** rtc-node's `DisconnectReason` name, e.g. `ROOM_DELETED`, `CLIENT_INITIATED`. */
    reason: string;
    at: number;
  }
  | {
    ev: "saved";
    id: string;
    path: string;
    /** Epoch ms of the recording's first sample; samples follow at 48 kHz. */
    startAt: number;
    samples: number;
  }
  | { ev: "error"; id?: string; message: string };

/** Sample rate of what the caller publishes and records. */
export const CALLER_SAMPLE_RATE = 48_000;

/** Epoch milliseconds, sub-millisecond precision, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
