/**
 * Builds the recipe's `AgentSession`: LiveKit Inference STT, LLM and TTS, the
 * prewarmed Silero VAD, and preemptive generation in its non-deprecated
 * spelling. Tests pass their own models through the same function, so the
 * session they exercise is the one production runs.
 *
 * @module
 */
import { inference, type llm, type stt, type tts, type VAD, voice } from "@livekit/agents";
import { CALL_SAMPLE_RATE } from "./audio_path.ts";
import { MAX_UNRECOVERABLE_ERRORS } from "./bounds.ts";
import { log } from "./log.ts";
import type { AgentConfig, TurnDetection } from "./config.ts";
import type { CallEnding } from "./ending.ts";
import { GuardedSession } from "./reply_guard.ts";

/** agents-js's per-model retry settings (`SessionConnectOptions`; production keeps its defaults). */
export type ConnOptions =
  & NonNullable<ConstructorParameters<typeof voice.AgentSession>[0]>["connOptions"]
  & object;
import { sessionTurnDetection } from "./turn_detection.ts";
import { watchTurnParts } from "./turn_parts.ts";

/** The three models and the VAD a session runs on. */
export interface SessionModels {
  /** Speech to text. */
  stt: stt.STT;
  /** The language model that decides when to call `end_session`. */
  llm: llm.LLM;
  /** Text to speech, which also says the goodbye. */
  tts: tts.TTS;
  /** The process's prewarmed VAD. */
  vad: VAD;
}

/** Where the models reach the gateway, and with what; unset fields come from the environment. */
export interface InferenceAuth {
  /** The gateway's URL (`LIVEKIT_INFERENCE_URL`). */
  baseURL?: string;
  /** `LIVEKIT_API_KEY`. */
  apiKey?: string;
  /** `LIVEKIT_API_SECRET`. */
  apiSecret?: string;
}

/**
 * The recipe's LiveKit Inference models. Built per job, never at module scope:
 * their constructors throw when the API key or secret is missing.
 */
export function inferenceModels(
  config: Pick<AgentConfig, "sttModel" | "llmModel" | "ttsModel" | "ttsVoice">,
  gateway: InferenceAuth = {},
): Omit<SessionModels, "vad"> {
  return {
    // The typed STT names are `deepgram/nova-3` + language; the recipe's
    // `nova-3-general` is passed through to the gateway untyped.
    stt: new inference.STT({
      model: config.sttModel as inference.STTModels,
      sampleRate: CALL_SAMPLE_RATE,
      ...gateway,
    }),
    llm: new inference.LLM({ model: config.llmModel as inference.LLMModels, ...gateway }),
    tts: new inference.TTS({
      model: config.ttsModel as inference.TTSModels,
      voice: config.ttsVoice,
      sampleRate: CALL_SAMPLE_RATE,
      ...gateway,
    }),
  };
}

/**
 * Creates the session with preemptive generation on and the chosen turn
 * detection, guarded so that once `ending` has started no input gets a reply
 * (`core/reply_guard.ts`). agents-js closes it on every unrecoverable model
 * error it is shown (`MAX_UNRECOVERABLE_ERRORS`, see bounds.ts); the agent's
 * failed-turn policy (`core/turn_failures.ts`) decides which ones it is shown.
 */
export function createSession(
  models: SessionModels,
  turnDetection: TurnDetection = "default",
  ending?: CallEnding,
  connOptions: Omit<ConnOptions, "maxUnrecoverableErrors"> = {},
): GuardedSession {
  const session = new GuardedSession({
    ...models,
    connOptions: {
      ...connOptions,
      // agents-js 1.9.0 retries a TTS stream without resending its text (the
      // first attempt consumed it once connected), so a socket that fails
      // mid-speech is "retried" into silence and reported nowhere: the reply
      // or the goodbye just ends early. With no retry every TTS failure
      // surfaces as an error: a failed turn (core/turn_failures.ts), or a
      // goodbye known to be cut (`partial`) or unheard (and then said once
      // more by sayBounded, text included). What this gives up: a retry
      // after a failed connect, which does resend; such a blip now costs one
      // turn, and is counted and logged like any other failure.
      ttsConnOptions: { ...connOptions.ttsConnOptions, maxRetry: 0 },
      maxUnrecoverableErrors: MAX_UNRECOVERABLE_ERRORS,
    },
    turnHandling: {
      preemptiveGeneration: { enabled: true },
      // `default`: agents-js's end-of-turn model, guarded (see turn_detection.ts).
      turnDetection: sessionTurnDetection(turnDetection),
    },
  });
  // agents-js re-emits every model error (retryable ones too) as the
  // session's `error` event, on a Node EventEmitter, which throws when nobody
  // listens. The throw lands in the plugin's retry loop and ends the stream
  // silently: no retry, no unrecoverable error, no close, a turn that never
  // answers (seen with an LLM 500 in 1.9.0; console mode happens to listen).
  // agents-js logs the errors itself, so this listener only needs to exist.
  session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    log().debug({ source: ev.source?.constructor?.name }, "model error reported to the session");
  });
  if (ending) session.guard(ending);
  // One `turn:` line per spoken turn: where the reply latency went (turn_parts.ts).
  watchTurnParts(session);
  return session;
}

/**
 * Releases the models' provider connections (the Inference TTS keeps a pooled
 * websocket for minutes). Run when the job shuts down: in a worker the job
 * process exits anyway, but a console process would otherwise stay alive on
 * those sockets. Errors are logged, never thrown: teardown must go on.
 */
export async function closeModels(models: Omit<SessionModels, "vad">): Promise<void> {
  const results = await Promise.allSettled([
    models.tts.close(),
    models.stt.close(),
    models.llm.aclose(),
  ]);
  for (const result of results) {
    if (result.status === "rejected") {
      log().warn({ error: String(result.reason) }, "a model did not close cleanly");
    }
  }
}
