/**
 * The agent's settings, read from the environment with the recipe's values as
 * defaults, and the checks that turn a missing or malformed value into one
 * clear line instead of a stack trace deep inside the SDK.
 *
 * @module
 */
import {
  DEFAULT_GOODBYE_TIMEOUT_MS,
  DEFAULT_MAX_FAILED_TURNS,
  MAX_GOODBYE_TIMEOUT_MS,
  SESSION_CLOSE_TIMEOUT_MS,
} from "./bounds.ts";
import { UserError } from "./errors.ts";

/** The recipe's models: LiveKit Inference STT, LLM and TTS. */
export const RECIPE_MODELS = {
  stt: "deepgram/nova-3-general",
  llm: "openai/gpt-4.1-mini",
  tts: "cartesia/sonic-3",
  ttsVoice: "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
} as const;

/** What the agent says after a failed turn, unless `APOLOGY_TEXT` says otherwise. */
export const DEFAULT_APOLOGY = "Sorry, something went wrong on my side. Could you say that again?";

/** Longest `APOLOGY_TEXT` accepted: an apology is one short sentence, not a speech. */
export const MAX_APOLOGY_CHARS = 300;

/** Largest `MAX_FAILED_TURNS` accepted. */
export const MAX_FAILED_TURNS_LIMIT = 20;

/** LiveKit Inference's gateway, as agents-js picks it when `LIVEKIT_INFERENCE_URL` is not set. */
export const DEFAULT_INFERENCE_URL = "https://agent-gateway.livekit.cloud/v1";

/** What happens to the room once the goodbye has played. */
export type EndCallAction = "delete_room" | "leave";

/** How the session decides the user finished a turn; `default` keeps agents-js's own choice. */
export type TurnDetection = "default" | "vad" | "stt";

/** Everything the entrypoint needs to build a session, resolved once per job. */
export interface AgentConfig {
  /** Inference STT model (`STT_MODEL`). */
  sttModel: string;
  /** Inference LLM model (`LLM_MODEL`). */
  llmModel: string;
  /** Inference TTS model (`TTS_MODEL`). */
  ttsModel: string;
  /** TTS voice id (`TTS_VOICE`). */
  ttsVoice: string;
  /** Bound on the goodbye, synthesis to playout (`GOODBYE_TIMEOUT_MS`). */
  goodbyeTimeoutMs: number;
  /** `END_CALL_ACTION`: `delete_room` (default, hangs up everyone, like LiveKit's end-call tool) or `leave`. */
  endCallAction: EndCallAction;
  /** `TURN_DETECTION`: `default`, `vad` or `stt`. */
  turnDetection: TurnDetection;
  /** `MAX_FAILED_TURNS`: failed turns in a row that end the call. */
  maxFailedTurns: number;
  /** `APOLOGY_TEXT`: what the agent says after a failed turn. */
  apologyText: string;
  /** The Inference gateway the models talk to (named in failure lines). */
  inferenceUrl: string;
}

type EnvReader = Pick<Deno.Env, "get">;

function nonEmpty(env: EnvReader, name: string): string | undefined {
  const value = env.get(name)?.trim();
  return value ? value : undefined;
}

function oneOf<T extends string>(
  env: EnvReader,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = nonEmpty(env, name);
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${name}="${value}" is not valid; use one of: ${allowed.join(", ")}`);
}

/**
 * Parses `GOODBYE_TIMEOUT_MS`. A value above {@link MAX_GOODBYE_TIMEOUT_MS}
 * is refused: the close bound (`SESSION_CLOSE_TIMEOUT_MS`) would cut such a
 * goodbye short whenever speech is still playing when the ending starts.
 */
export function goodbyeTimeoutMs(env: EnvReader): number {
  const value = nonEmpty(env, "GOODBYE_TIMEOUT_MS");
  const max = MAX_GOODBYE_TIMEOUT_MS;
  if (value === undefined) return DEFAULT_GOODBYE_TIMEOUT_MS;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n <= 0 || n > max) {
    throw new UserError(
      `GOODBYE_TIMEOUT_MS="${value}" is not valid; use a whole number of milliseconds from 1 to ${max} ` +
        `(the whole ending is bounded at ${SESSION_CLOSE_TIMEOUT_MS} ms, of which ${
          SESSION_CLOSE_TIMEOUT_MS - max
        } ms are kept for the speech still playing and agents-js's fixed waits)`,
    );
  }
  return n;
}

function wholeNumber(env: EnvReader, name: string, fallback: number, max: number): number {
  const value = nonEmpty(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw new UserError(`${name}="${value}" is not valid; use a whole number from 1 to ${max}`);
  }
  return n;
}

function apologyText(env: EnvReader): string {
  const value = nonEmpty(env, "APOLOGY_TEXT");
  if (value === undefined) return DEFAULT_APOLOGY;
  if (value.length > MAX_APOLOGY_CHARS) {
    throw new UserError(
      `APOLOGY_TEXT is ${value.length} characters long; keep it to one short sentence (at most ${MAX_APOLOGY_CHARS})`,
    );
  }
  return value;
}

/** The gateway agents-js's Inference plugins use: `LIVEKIT_INFERENCE_URL`, else LiveKit Cloud's. */
export function inferenceUrl(env: EnvReader = Deno.env): string {
  const url = nonEmpty(env, "LIVEKIT_INFERENCE_URL");
  if (url) return url;
  // agents-js (inference/utils.ts getDefaultInferenceUrl) picks staging for a staging project.
  return env.get("LIVEKIT_URL")?.includes(".staging.livekit.cloud")
    ? "https://agent-gateway.staging.livekit.cloud/v1"
    : DEFAULT_INFERENCE_URL;
}

/** Reads the agent's settings from the environment. Throws {@link UserError} on a malformed value. */
export function readAgentConfig(env: EnvReader = Deno.env): AgentConfig {
  return {
    sttModel: nonEmpty(env, "STT_MODEL") ?? RECIPE_MODELS.stt,
    llmModel: nonEmpty(env, "LLM_MODEL") ?? RECIPE_MODELS.llm,
    ttsModel: nonEmpty(env, "TTS_MODEL") ?? RECIPE_MODELS.tts,
    ttsVoice: nonEmpty(env, "TTS_VOICE") ?? RECIPE_MODELS.ttsVoice,
    goodbyeTimeoutMs: goodbyeTimeoutMs(env),
    endCallAction: oneOf(env, "END_CALL_ACTION", ["delete_room", "leave"], "delete_room"),
    turnDetection: oneOf(env, "TURN_DETECTION", ["default", "vad", "stt"], "default"),
    maxFailedTurns: wholeNumber(
      env,
      "MAX_FAILED_TURNS",
      DEFAULT_MAX_FAILED_TURNS,
      MAX_FAILED_TURNS_LIMIT,
    ),
    apologyText: apologyText(env),
    inferenceUrl: inferenceUrl(env),
  };
}

/**
 * Checks the LiveKit credentials every mode needs (Inference models sign their
 * requests with them). Flags given on the command line count as set.
 */
export function requireCredentials(
  env: EnvReader = Deno.env,
  flags: { apiKey?: string; apiSecret?: string } = {},
): void {
  for (
    const [name, flag] of [["LIVEKIT_API_KEY", flags.apiKey], [
      "LIVEKIT_API_SECRET",
      flags.apiSecret,
    ]] as const
  ) {
    if (!flag?.trim() && nonEmpty(env, name) === undefined) {
      throw new UserError(
        `${name} is not set; copy .env.example to .env and fill it in, or export ${name}`,
      );
    }
  }
}

/** Validates a console `--connect-addr HOST:PORT` before agents-js sees it. */
export function parseConnectAddr(addr: string): { host: string; port: number } {
  const sep = addr.lastIndexOf(":");
  const host = sep > 0 ? addr.slice(0, sep) : "";
  const portText = sep > 0 ? addr.slice(sep + 1) : "";
  const port = Number(portText);
  if (!host || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UserError(
      `--connect-addr "${addr}" is not valid; use HOST:PORT with a port from 1 to 65535, like 127.0.0.1:8765`,
    );
  }
  return { host, port };
}
