/**
 * Options of the call keeper (`keeper`): flags, then environment, then defaults, checked the way
 * the worker's are (`worker/option_values.ts`), so the same mistakes get the same one-line errors.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../core/errors.ts";
import { LOG_LEVELS } from "../core/log.ts";
import {
  KEEPER_ANSWER_TIMEOUT_MS,
  KEEPER_JOIN_TIMEOUT_MS,
  KEEPER_POLL_INTERVAL_MS,
} from "../core/bounds.ts";
import type { LogLevel } from "../worker/options.ts";
import { integer, requireToken, resolveUrl, seconds } from "../worker/option_values.ts";

/** Everything the keeper needs, resolved and validated. */
export interface KeeperOptions {
  /** The LiveKit server (websocket form, as the worker's); the keeper calls its HTTP API. */
  url: string;
  /** API key: signs the server API calls, and the webhooks must be signed with it. */
  apiKey: string;
  /** API secret. */
  apiSecret: string;
  /** Port of the webhook endpoint (0: any free port). */
  port: number;
  /** Address the webhook endpoint binds. */
  host: string;
  /** The agent dispatched to a call nobody answered (empty: automatic-dispatch workers). */
  agentName: string;
  /** How long a dispatched agent gets to join before the caller is told and hung up, in ms. */
  joinTimeoutMs: number;
  /** How long a caller may be alone in a new room before the keeper dispatches, in ms; 0: never. */
  answerTimeoutMs: number;
  /** How often the keeper looks at a room it is waiting on, in ms. */
  pollMs: number;
  /** Log level of the keeper's JSON lines. */
  logLevel: LogLevel;
}

/** A flag, its variable, and its help line (the keeper's `--help` and docs/scaling.md). */
export interface KeeperOptionSpec {
  /** The flag, e.g. `--port`. */
  flag: string;
  /** Its environment variable, if any. */
  env?: string;
  /** One line of help. */
  help: string;
  /** Its default, as help shows it. */
  defaults: string;
}

/** Every option of the keeper. */
export const KEEPER_OPTION_SPECS: readonly KeeperOptionSpec[] = [
  {
    flag: "--url",
    env: "LIVEKIT_URL",
    help: "the LiveKit server whose calls it keeps (ws://, wss://, http://, https://)",
    defaults: "required",
  },
  {
    flag: "--api-key",
    env: "LIVEKIT_API_KEY",
    help: "API key (also signs the webhooks)",
    defaults: "required",
  },
  { flag: "--api-secret", env: "LIVEKIT_API_SECRET", help: "API secret", defaults: "required" },
  {
    flag: "--port",
    env: "KEEPER_PORT",
    help: "port of the webhook endpoint (`POST /`) and its health answer (`GET /`); 0 = any",
    defaults: "8090",
  },
  { flag: "--host", env: "KEEPER_HOST", help: "address it binds", defaults: "0.0.0.0" },
  {
    flag: "--agent-name",
    env: "LIVEKIT_AGENT_NAME",
    help: "agent dispatched to a call nobody answered (a lost agent is replaced by its own name)",
    defaults: "empty: automatic dispatch",
  },
  {
    flag: "--join-timeout",
    env: "KEEPER_JOIN_TIMEOUT",
    help: "seconds a dispatched agent gets to join; then the caller is told and hung up",
    defaults: String(KEEPER_JOIN_TIMEOUT_MS / 1000),
  },
  {
    flag: "--answer-timeout",
    env: "KEEPER_ANSWER_TIMEOUT",
    help: "seconds a caller may wait alone in a new call before the keeper dispatches; 0 = never",
    defaults: String(KEEPER_ANSWER_TIMEOUT_MS / 1000),
  },
  {
    flag: "--log-level",
    env: "LOG_LEVEL",
    help: "trace, debug, info, warn, error, fatal",
    defaults: "info",
  },
];

type EnvReader = Pick<Deno.Env, "get">;

/**
 * Parses the keeper's flags (`argv` after the command) and the environment.
 * @throws {UserError} with one line naming the flag or variable at fault.
 */
export function parseKeeperOptions(
  argv: readonly string[],
  env: EnvReader = Deno.env,
): KeeperOptions {
  const str = { type: "string" } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        url: str,
        "api-key": str,
        "api-secret": str,
        port: str,
        host: str,
        "agent-name": str,
        "join-timeout": str,
        "answer-timeout": str,
        "log-level": str,
      },
    }));
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UserError(`${why} (see \`deno task keeper --help\`)`);
  }
  const pick = (flag: string, envName?: string): { value?: string; name: string } => {
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return { value: fromFlag, name: `--${flag}` };
    const fromEnv = envName ? env.get(envName) : undefined;
    if (fromEnv !== undefined && fromEnv.trim() !== "") return { value: fromEnv, name: envName! };
    return { name: envName ?? `--${flag}` };
  };
  const joinS = seconds(pick("join-timeout", "KEEPER_JOIN_TIMEOUT"));
  if (joinS !== undefined && joinS < 1) {
    throw new UserError(
      `${pick("join-timeout", "KEEPER_JOIN_TIMEOUT").name} must be at least 1 second; ` +
        "an agent needs time to join",
    );
  }
  const answerS = seconds(pick("answer-timeout", "KEEPER_ANSWER_TIMEOUT"));
  const level = pick("log-level", "LOG_LEVEL");
  let logLevel: LogLevel = "info";
  if (level.value !== undefined) {
    const v = level.value.trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(v)) {
      throw new UserError(
        `${level.name}="${level.value}" is not a log level; use one of: ${LOG_LEVELS.join(", ")}`,
      );
    }
    logLevel = v as LogLevel;
  }
  return {
    url: resolveUrl(pick("url", "LIVEKIT_URL")),
    apiKey: requireToken(pick("api-key", "LIVEKIT_API_KEY"), "--api-key", "API key"),
    apiSecret: requireToken(pick("api-secret", "LIVEKIT_API_SECRET"), "--api-secret", "API secret"),
    port: integer(pick("port", "KEEPER_PORT"), 0, 65535) ?? 8090,
    host: pick("host", "KEEPER_HOST").value?.trim() || "0.0.0.0",
    agentName: pick("agent-name", "LIVEKIT_AGENT_NAME").value?.trim() ?? "",
    joinTimeoutMs: joinS === undefined ? KEEPER_JOIN_TIMEOUT_MS : Math.round(joinS * 1000),
    answerTimeoutMs: answerS === undefined ? KEEPER_ANSWER_TIMEOUT_MS : Math.round(answerS * 1000),
    pollMs: KEEPER_POLL_INTERVAL_MS,
    logLevel,
  };
}

/** The keeper's `--help`. */
export function keeperHelp(): string {
  const options = KEEPER_OPTION_SPECS.map((s) => {
    const env = s.env ? `  (env ${s.env})` : "";
    return `  ${s.flag} VALUE${env}\n      ${s.help}\n      default: ${s.defaults}`;
  });
  return `Usage: deno task keeper [options]

Keep calls answered when agents are lost: receive the LiveKit server's webhooks
(point its webhook.urls at this endpoint) and, when an agent leaves a call
without ending it (its worker crashed, its machine went away), dispatch a
replacement that says it lost the thread and carries on. When no agent joins
in time, the caller is told (a data message on topic exit-message.notice) and
the room is deleted, which hangs the caller up. A caller left alone in a new
call (every worker full) gets the same treatment after --answer-timeout.

Options (a flag wins over its variable):
${options.join("\n")}
  -h, --help
      Show this help

Exit status: 0 after a clean stop, 2 for a configuration mistake (one line on
stderr), 130 after SIGINT, 143 after SIGTERM. See docs/scaling.md.`;
}
