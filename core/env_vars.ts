/**
 * The environment variables the agent reads in every mode, with their meaning
 * and default: the one list the commands' `--help` print (the README's
 * configuration table says the same).
 *
 * @module
 */
import { DEFAULT_GOODBYE_TIMEOUT_MS, DEFAULT_MAX_FAILED_TURNS } from "./bounds.ts";
import { RECIPE_MODELS } from "./config.ts";

/** One environment variable in `--help`. */
export interface EnvVarHelp {
  /** The variable (or variables, comma-separated, when they go together). */
  name: string;
  /** What it does, one line. */
  help: string;
}

/** The agent's own settings: credentials, models, the exit flow, logging. */
export const AGENT_ENV_VARS: readonly EnvVarHelp[] = [
  {
    name: "LIVEKIT_API_KEY, LIVEKIT_API_SECRET",
    help: "your LiveKit project's credentials (see .env.example)",
  },
  {
    name: "LIVEKIT_URL",
    help: "LiveKit server or Cloud project (required in start, dev and connect)",
  },
  {
    name: "LIVEKIT_INFERENCE_URL",
    help: "LiveKit Inference gateway, ending in /v1 (default: LiveKit Cloud's)",
  },
  { name: "STT_MODEL", help: `speech to text (default ${RECIPE_MODELS.stt})` },
  { name: "LLM_MODEL", help: `language model (default ${RECIPE_MODELS.llm})` },
  {
    name: "TTS_MODEL, TTS_VOICE",
    help: `text to speech and its voice (default ${RECIPE_MODELS.tts}, the recipe's)`,
  },
  {
    name: "GOODBYE_TIMEOUT_MS",
    help: `longest the goodbye may take, in ms (default ${DEFAULT_GOODBYE_TIMEOUT_MS})`,
  },
  {
    name: "MAX_FAILED_TURNS",
    help: `failed model turns in a row that end the call (default ${DEFAULT_MAX_FAILED_TURNS})`,
  },
  {
    name: "APOLOGY_TEXT",
    help: "what the agent says after a failed turn, before it listens again",
  },
  {
    name: "END_CALL_ACTION",
    help: "delete_room (default: hangs up everyone) or leave",
  },
  {
    name: "TURN_DETECTION",
    help: "default (agents-js's end-of-turn model), vad or stt",
  },
  { name: "LOG_LEVEL", help: "trace, debug, info, warn, error or fatal (as --log-level)" },
];

/** Renders variables as an indented two-column block for `--help` (long names get a line of their own). */
export function formatEnvVars(vars: readonly EnvVarHelp[]): string {
  const col = 24;
  return vars.map((v) =>
    v.name.length < col - 1
      ? `  ${v.name.padEnd(col)}${v.help}`
      : `  ${v.name}\n  ${" ".repeat(col)}${v.help}`
  ).join("\n");
}
