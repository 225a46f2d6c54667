/**
 * Operator options of the worker commands (`start`, `dev`, `connect`): flags, then environment,
 * then the mode's default. Names follow agents-js's CLI and `ServerOptions` where they exist.
 *
 * Parsing is pure (argv + an env reader in, options or a {@link UserError} out), so every rule is
 * unit-tested without starting a worker. The option table and its defaults are in option_specs.ts,
 * the checks of single values in option_values.ts.
 * @module
 */
import { unknownOptionMessage } from "../core/unknown_option.ts";
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { UserError } from "../core/errors.ts";
import {
  DEFAULT_CALLS_PER_PROCESS,
  DEFAULT_DRAIN_TIMEOUT_S,
  DEFAULT_HEALTH_PORT,
  DEFAULT_MAX_RETRY,
  DEFAULT_SHUTDOWN_GRACE_S,
  WORKER_FLAGS,
} from "./option_specs.ts";
import { fraction, integer, onOff, requireToken, resolveUrl, seconds } from "./option_values.ts";

/** The worker commands. */
export type WorkerCommand = "start" | "dev" | "connect";

/** Log levels agents-js accepts. */
import { LOG_LEVELS } from "../core/log.ts";

export { LOG_LEVELS };
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Everything the worker needs, resolved and validated. */
export interface WorkerOptions {
  command: WorkerCommand;
  /** `start` (production: JSON logs, idle processes, health port 8081, drain on SIGTERM). */
  production: boolean;
  /** Normalised websocket base URL (ws/wss, path ending in `/`). */
  url: string;
  apiKey: string;
  apiSecret: string;
  workerToken?: string;
  /** Explicit dispatch name; empty for automatic dispatch. */
  agentName: string;
  /** The name came from LIVEKIT_AGENT_NAME (agents-js reports this in `GET /worker`). */
  agentNameFromEnv: boolean;
  /** `start --simulation` (set by `lk simulate`): no load limit, no health server. */
  simulation: boolean;
  /** Health/worker-info HTTP port; 0 picks a free port. */
  port: number;
  /** Serve `GET /metrics` on the health port (and count what the job processes report). */
  metrics: boolean;
  host: string;
  numIdleProcesses: number;
  /**
   * Calls one job process runs at once (a call host, `worker/call_host/`); 1 keeps agents-js's
   * own process per call.
   */
  callsPerProcess: number;
  /** Worker reports itself full at or above this CPU load (0..1); Infinity never. */
  loadThreshold: number;
  /**
   * When set, the worker's load is its active calls / this (full at this many calls) instead of
   * the machine's CPU load, and {@link loadThreshold} does not apply.
   */
  maxJobs?: number;
  /** How long SIGTERM waits for active jobs, in ms. 0: end them at once. */
  drainTimeoutMs: number;
  /**
   * After the drain, how long jobs get to end (goodbye included) before the worker ends every
   * process still below it by PID, in ms. Drain timeout + this bound the whole shutdown.
   */
  shutdownGraceMs: number;
  /** Connection attempts after the first failure before giving up. */
  maxRetry: number;
  logLevel: LogLevel;
  /** `connect` only. */
  room?: string;
  /** `connect` only. */
  participantIdentity?: string;
}

type EnvReader = Pick<Deno.Env, "get">;

/**
 * Parses `argv` (`[command, ...flags]`, as main.ts passes it) and the environment.
 * @throws {UserError} with one line naming the flag or variable at fault.
 */
export function parseWorkerOptions(
  argv: readonly string[],
  env: EnvReader = Deno.env,
): WorkerOptions {
  const [command, ...rest] = argv;
  if (command !== "start" && command !== "dev" && command !== "connect") {
    throw new UserError(
      `unknown worker command "${command ?? ""}"; use start, dev or connect --room NAME`,
    );
  }
  const str = { type: "string" } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        url: str,
        "api-key": str,
        "api-secret": str,
        "worker-token": str,
        "agent-name": str,
        port: str,
        metrics: str,
        host: str,
        "num-idle-processes": str,
        "calls-per-process": str,
        "load-threshold": str,
        "max-jobs": str,
        "drain-timeout": str,
        "max-retry": str,
        "shutdown-grace": str,
        "log-level": str,
        room: str,
        "participant-identity": str,
        // Set by `lk agent dev`; accepted (and ignored) so the command line agents-js documents works.
        "cli-addr": str,
        // Set by `lk simulate`; accepted so `start --simulation` does not fail.
        simulation: { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new UserError(parseArgsMessage(error, command));
  }

  const production = command === "start";
  // A flag wins over its variable, as in agents-js (commander's `.env()`).
  const pick = (flag: string, envName?: string): { value?: string; name: string } => {
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return { value: fromFlag, name: `--${flag}` };
    const fromEnv = envName ? env.get(envName) : undefined;
    if (fromEnv !== undefined && fromEnv.trim() !== "") return { value: fromEnv, name: envName! };
    return { name: envName ?? `--${flag}` };
  };

  const url = resolveUrl(pick("url", "LIVEKIT_URL"));
  const apiKey = requireToken(pick("api-key", "LIVEKIT_API_KEY"), "--api-key", "API key");
  const apiSecret = requireToken(
    pick("api-secret", "LIVEKIT_API_SECRET"),
    "--api-secret",
    "API secret",
  );

  const port = integer(pick("port", "HEALTH_PORT"), 0, 65535) ??
    (production ? DEFAULT_HEALTH_PORT : 0);
  const metrics = onOff(pick("metrics", "METRICS")) ?? true;
  const numIdleProcesses = integer(pick("num-idle-processes", "NUM_IDLE_PROCESSES"), 0, 64) ??
    (production ? Math.min(availableParallelism(), 4) : 0);
  const callsPerProcess = integer(pick("calls-per-process", "CALLS_PER_PROCESS"), 1, 64) ??
    DEFAULT_CALLS_PER_PROCESS;
  const loadThreshold = fraction(pick("load-threshold", "LOAD_THRESHOLD")) ??
    (production ? 0.7 : Infinity);
  const maxJobs = integer(pick("max-jobs", "MAX_JOBS"), 1, 1000);
  const drainTimeoutS = seconds(pick("drain-timeout", "DRAIN_TIMEOUT")) ??
    DEFAULT_DRAIN_TIMEOUT_S;
  const shutdownGraceS = seconds(pick("shutdown-grace", "SHUTDOWN_GRACE")) ??
    DEFAULT_SHUTDOWN_GRACE_S;
  if (shutdownGraceS < 1) {
    throw new UserError(
      `${
        pick("shutdown-grace", "SHUTDOWN_GRACE").name
      } must be at least 1 second; jobs need time to end`,
    );
  }
  const maxRetry = integer(pick("max-retry", "MAX_RETRY"), 0, 1000) ?? DEFAULT_MAX_RETRY;

  const level = pick("log-level", "LOG_LEVEL");
  let logLevel: LogLevel = command === "dev" ? "debug" : "info";
  if (level.value !== undefined) {
    const v = level.value.trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(v)) {
      throw new UserError(
        `${level.name}="${level.value}" is not a log level; use one of: ${LOG_LEVELS.join(", ")}`,
      );
    }
    logLevel = v as LogLevel;
  }

  const room = typeof values.room === "string" ? values.room.trim() : undefined;
  if (command === "connect" && !room) {
    throw new UserError("connect needs --room NAME: the room the agent should join");
  }
  if (command !== "connect" && values.room !== undefined) {
    throw new UserError(`--room only applies to connect; remove it or run connect --room NAME`);
  }

  const name = pick("agent-name", "LIVEKIT_AGENT_NAME");
  const agentName = name.value?.trim() ?? "";
  const workerToken = pick("worker-token", "LIVEKIT_WORKER_TOKEN").value?.trim() || undefined;
  const host = pick("host", "HEALTH_HOST").value?.trim() || "0.0.0.0";

  return {
    command,
    production,
    url,
    apiKey,
    apiSecret,
    workerToken,
    agentName,
    agentNameFromEnv: agentName !== "" && name.name === "LIVEKIT_AGENT_NAME",
    simulation: production && values.simulation === true,
    port,
    metrics,
    host,
    numIdleProcesses,
    callsPerProcess,
    loadThreshold,
    maxJobs,
    drainTimeoutMs: Math.round(drainTimeoutS * 1000),
    shutdownGraceMs: Math.round(shutdownGraceS * 1000),
    maxRetry,
    logLevel,
    room,
    participantIdentity: typeof values["participant-identity"] === "string"
      ? values["participant-identity"]
      : undefined,
  };
}

/** node:util parseArgs' error, said as every command says it (one line, pointing to --help). */
export function parseArgsMessage(error: unknown, command: WorkerCommand): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return unknownOptionMessage(quoted, command, WORKER_FLAGS);
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return `unexpected argument ${quoted} (see deno task ${command} --help)`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const flag = quoted.split(" ")[0];
    const what = /argument missing/.test(message) ? "needs a value" : "takes no value";
    return `${flag} ${what} (see deno task ${command} --help)`;
  }
  return `${message.split("\n")[0]} (see deno task ${command} --help)`;
}
