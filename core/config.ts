/**
 * The agent's settings, read from the environment with the recipe's values as
 * defaults, and the checks that turn a missing or malformed value into one
 * clear line instead of a stack trace deep inside the SDK.
 *
 * @module
 */
import { DEFAULT_GOODBYE_TIMEOUT_MS } from "./bounds.ts";
import { UserError } from "./errors.ts";

/** The recipe's models: LiveKit Inference STT, LLM and TTS. */
export const RECIPE_MODELS = {
  stt: "deepgram/nova-3-general",
  llm: "openai/gpt-4.1-mini",
  tts: "cartesia/sonic-3",
  ttsVoice: "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
} as const;

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

/** Parses a positive integer of milliseconds from `name`, or returns `fallback`. */
export function positiveMs(env: EnvReader, name: string, fallback: number): number {
  const value = nonEmpty(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n <= 0 || n > 600_000) {
    throw new UserError(
      `${name}="${value}" is not valid; use a whole number of milliseconds from 1 to 600000`,
    );
  }
  return n;
}

/** Reads the agent's settings from the environment. Throws {@link UserError} on a malformed value. */
export function readAgentConfig(env: EnvReader = Deno.env): AgentConfig {
  return {
    sttModel: nonEmpty(env, "STT_MODEL") ?? RECIPE_MODELS.stt,
    llmModel: nonEmpty(env, "LLM_MODEL") ?? RECIPE_MODELS.llm,
    ttsModel: nonEmpty(env, "TTS_MODEL") ?? RECIPE_MODELS.tts,
    ttsVoice: nonEmpty(env, "TTS_VOICE") ?? RECIPE_MODELS.ttsVoice,
    goodbyeTimeoutMs: positiveMs(env, "GOODBYE_TIMEOUT_MS", DEFAULT_GOODBYE_TIMEOUT_MS),
    endCallAction: oneOf(env, "END_CALL_ACTION", ["delete_room", "leave"], "delete_room"),
    turnDetection: oneOf(env, "TURN_DETECTION", ["default", "vad", "stt"], "default"),
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
