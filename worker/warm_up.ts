/**
 * Warm-up of a job process (or call host) before it is offered a call: the code a call's first
 * seconds run is compiled on first use, and V8 compiles lazily, function by function. In a fresh
 * process that first use came in synchronous chunks of 50–120 ms during the call's first
 * seconds (building the models and the session, decoding rtc-node's first FFI events), which
 * agents-js's loop monitor rightly reports as a blocked loop and which delays the caller's first
 * audio. Done here, while no call waits, the same work costs the call nothing.
 *
 * What is warmed: every protobuf message type of rtc-node's FFI (`@livekit/rtc-ffi-bindings`;
 * `@bufbuild/protobuf` builds each type's field list on its first use), and one rehearsed turn
 * ({@link rehearseCall}): the agent's own session, agent and Inference models (agent.ts
 * `warmCall`), pointed at the Inference simulation that `console --offline` runs, started on
 * 127.0.0.1 for the rehearsal and closed after it, answer one typed "hello" through the LLM and
 * the TTS into an output that drops the audio. No room, no real gateway, no key leaves the
 * process. Best effort: a failure is logged at debug and the process serves calls as before.
 * @module
 */
import { voice } from "@livekit/agents";
import * as ffi from "@livekit/rtc-ffi-bindings";
import type { AudioFrame } from "@livekit/rtc-node";
import { CALL_SAMPLE_RATE } from "../core/audio_path.ts";
import { log } from "../core/log.ts";
import type { InferenceAuth } from "../core/session.ts";
import { TIMED_OUT, withTimeout } from "../core/timeout.ts";
import { startGateway } from "../simulation/mod.ts";

/** How long a rehearsed turn may take before the warm-up gives up on it (it takes 0.3–1 s). */
export const REHEARSAL_TIMEOUT_MS = 4_000;

/**
 * How long the whole warm-up may hold the process's start-up: agents-js gives a process 10 s
 * (`initializeProcessTimeout`) for its prewarm, the VAD's load included, before it kills it.
 */
export const WARM_UP_TIMEOUT_MS = 5_000;

/** What {@link rehearseCall} needs built: a session and its agent, and how to release them. */
export interface RehearsalParts {
  /** The session, not started. */
  session: voice.AgentSession;
  /** Its agent. */
  agent: voice.Agent;
  /** Releases the models (their pooled sockets). */
  close(): Promise<void>;
}

/**
 * A speaker that plays nothing: each segment is reported played in full when it is flushed. It
 * says it can pause (nothing to pause), as the room's output does, so the session's options fit
 * it without agents-js warning that they do not.
 */
class DroppedAudio extends voice.AudioOutput {
  /** Seconds of audio dropped, over every segment. */
  dropped = 0;
  #playing = false;
  #seconds = 0;

  constructor() {
    super(CALL_SAMPLE_RATE, undefined, { pause: true });
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    await super.captureFrame(frame);
    if (!this.#playing) {
      this.#playing = true;
      this.#seconds = 0;
      this.onPlaybackStarted(Date.now());
    }
    this.#seconds += frame.samplesPerChannel / frame.sampleRate;
    this.dropped += frame.samplesPerChannel / frame.sampleRate;
  }

  override flush(): void {
    super.flush();
    if (!this.#playing) return;
    this.#playing = false;
    this.onPlaybackFinished({ playbackPosition: this.#seconds, interrupted: false });
  }

  clearBuffer(): void {
    if (!this.#playing) return;
    this.#playing = false;
    this.onPlaybackFinished({ playbackPosition: this.#seconds, interrupted: true });
  }
}

/**
 * Runs one typed turn ("hello": the LLM's reply, spoken by the TTS) through the parts `build`
 * makes, against the Inference simulation on 127.0.0.1, then closes them and the simulation.
 * Bounded by `timeoutMs`; throws when the turn failed or did not end in time. Returns the seconds
 * of speech the turn produced (the reply, and the goodbye when the agent says one at close).
 */
export async function rehearseCall(
  build: (gateway: Required<InferenceAuth>) => RehearsalParts | Promise<RehearsalParts>,
  timeoutMs = REHEARSAL_TIMEOUT_MS,
): Promise<{ speechSeconds: number }> {
  // A throwaway key for the rehearsal's own gateway: the real one is never used for it.
  const apiKey = "warm-up";
  const apiSecret = crypto.randomUUID() + crypto.randomUUID();
  const gw = await startGateway({ apiKey, apiSecret });
  let parts: RehearsalParts | undefined;
  const speaker = new DroppedAudio();
  try {
    parts = await build({ baseURL: gw.url, apiKey, apiSecret });
    parts.session.output.audio = speaker;
    await parts.session.start({ agent: parts.agent });
    const turn = await withTimeout(parts.session.run({ userInput: "hello" }).wait(), timeoutMs);
    if (turn === TIMED_OUT) throw new Error(`the rehearsed turn did not end in ${timeoutMs} ms`);
  } finally {
    try {
      await parts?.session.close();
    } finally {
      await parts?.close();
      await gw.close();
    }
  }
  return { speechSeconds: speaker.dropped };
}

/** A protobuf-es v1 message type, as rtc-ffi-bindings exports them. */
interface MessageType {
  typeName: string;
  fields: { list(): unknown[] };
  new (): { toBinary(): Uint8Array };
  fromBinary(bytes: Uint8Array): unknown;
}

function isMessageType(value: unknown): value is MessageType {
  return typeof value === "function" && typeof (value as MessageType).typeName === "string" &&
    typeof (value as MessageType).fields?.list === "function";
}

/** Builds the field list of every FFI message type and runs each through encode and decode once; returns how many. */
export function warmProtobufTypes(): number {
  let types = 0;
  for (const value of Object.values(ffi)) {
    if (!isMessageType(value)) continue;
    types++;
    value.fields.list();
    try {
      value.fromBinary(new value().toBinary());
    } catch {
      // proto2 types with required fields refuse to encode empty: their field list is built.
    }
  }
  return types;
}

/** Warms this process for its first call (see the module doc); never throws. */
export async function warmUp(
  warmCall?: () => Promise<{ speechSeconds: number } | void>,
  timeoutMs = WARM_UP_TIMEOUT_MS,
): Promise<void> {
  const started = performance.now();
  try {
    const types = warmProtobufTypes();
    const rehearsed = warmCall && await withTimeout(warmCall(), timeoutMs);
    if (rehearsed === TIMED_OUT) {
      // Its remains end on their own bounds; the process must not miss agents-js's.
      log().warn(
        { timeout_ms: timeoutMs },
        "the warm-up for the first call did not end in time; this process serves calls unwarmed",
      );
      return;
    }
    log().debug(
      {
        ms: Math.round(performance.now() - started),
        protobuf_types: types,
        speech_s: rehearsed ? Math.round(rehearsed.speechSeconds * 10) / 10 : undefined,
      },
      "warmed up for the first call",
    );
  } catch (error) {
    log().debug({ error: String(error) }, "warm-up for the first call failed; calls run unwarmed");
  }
}
