/**
 * Operator options of the worker commands (`start`, `dev`, `connect`): flags, then environment,
 * then the mode's default. Names follow agents-js's CLI and `ServerOptions` where they exist.
 *
 * Parsing is pure (argv + an env reader in, options or a {@link UserError} out), so every rule is
 * unit-tested without starting a worker.
 * @module
 */
import { unknownOptionMessage } from "../core/unknown_option.ts";
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { UserError } from "../core/errors.ts";
import { redactUrl } from "../core/redact.ts";

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

/** A flag, its environment variable, and its help line (worker/README.md's table says the same). */
export interface OptionSpec {
  flag: string;
  env?: string;
  help: string;
  defaults: string;
}

/** Every operator option, in worker/README.md's order. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  {
    flag: "--url",
    env: "LIVEKIT_URL",
    help: "LiveKit server or Cloud project URL (ws://, wss://, http://, https://)",
    defaults: "required (ws://localhost:7880 for a local `livekit-server --dev`)",
  },
  { flag: "--api-key", env: "LIVEKIT_API_KEY", help: "API key", defaults: "required" },
  { flag: "--api-secret", env: "LIVEKIT_API_SECRET", help: "API secret", defaults: "required" },
  {
    flag: "--agent-name",
    env: "LIVEKIT_AGENT_NAME",
    help: "register for explicit dispatch under this name; `--agent-name=` forces automatic",
    defaults: "empty: automatic dispatch",
  },
  {
    flag: "--port",
    env: "HEALTH_PORT",
    help: "health (`GET /`) and worker-info (`GET /worker`) HTTP port; 0 = any free port",
    defaults: "start: 8081; dev/connect: 0",
  },
  {
    flag: "--metrics",
    env: "METRICS",
    help: "`on`: Prometheus metrics at `GET /metrics` on the health port; `off`: none",
    defaults: "on",
  },
  {
    flag: "--host",
    env: "HEALTH_HOST",
    help: "address the HTTP server binds",
    defaults: "0.0.0.0",
  },
  {
    flag: "--num-idle-processes",
    env: "NUM_IDLE_PROCESSES",
    help: "prewarmed call slots kept ready (in call hosts, which prewarm once for all their slots)",
    defaults: "start: min(CPUs, 4); dev/connect: 0",
  },
  {
    flag: "--calls-per-process",
    env: "CALLS_PER_PROCESS",
    help:
      "calls one job process runs at once, sharing its runtime and prewarmed VAD; 1 = a process per call",
    defaults: "8",
  },
  {
    flag: "--load-threshold",
    env: "LOAD_THRESHOLD",
    help: "CPU load (0-1) at which the worker stops taking jobs",
    defaults: "start: 0.7; dev/connect: never",
  },
  {
    flag: "--max-jobs",
    env: "MAX_JOBS",
    help:
      "concurrent calls the worker takes; when set, load = active calls / this instead of CPU load",
    defaults: "unset: CPU load",
  },
  {
    flag: "--drain-timeout",
    env: "DRAIN_TIMEOUT",
    help: "seconds SIGTERM waits for active calls before ending them; 0 = end them at once",
    defaults: "1800",
  },
  {
    flag: "--shutdown-grace",
    env: "SHUTDOWN_GRACE",
    help:
      "seconds jobs get to end (goodbye included) after the drain; then leftover processes are killed",
    defaults: "30",
  },
  {
    flag: "--max-retry",
    env: "MAX_RETRY",
    help: "connection retries before the worker gives up and exits 1",
    defaults: "10",
  },
  {
    flag: "--log-level",
    env: "LOG_LEVEL",
    help: "trace, debug, info, warn, error, fatal",
    defaults: "start/connect: info; dev: debug",
  },
  {
    flag: "--room",
    help: "`connect` only: room to join (created if missing)",
    defaults: "required for `connect`",
  },
  {
    flag: "--participant-identity",
    help: "`connect` only: participant to listen to",
    defaults: "any",
  },
];

type EnvReader = Pick<Deno.Env, "get">;

/** The health port of `start` (agents-js's and LiveKit's default). */
export const DEFAULT_HEALTH_PORT = 8081;
/** Seconds SIGTERM waits for active calls by default (`DRAIN_TIMEOUT`). */
export const DEFAULT_DRAIN_TIMEOUT_S = 1800;
/**
 * Calls per job process by default: a call then costs its own session and room, not a runtime,
 * a module graph and a VAD of its own (see the density notes in docs/density.md). A process
 * that fails takes its calls with it, so this also bounds what one crash ends.
 */
export const DEFAULT_CALLS_PER_PROCESS = 8;
const DEFAULT_MAX_RETRY = 10;
/**
 * Seconds jobs get to end after the drain by default (`SHUTDOWN_GRACE`). Covers the goodbye path
 * of a job ended at shutdown (core/bounds.ts: session close <= 30 s).
 */
export const DEFAULT_SHUTDOWN_GRACE_S = 30;

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

/** The server URL from a flag or variable, checked and normalised (ws/wss, path ending in `/`). */
export function resolveUrl(given: { value?: string; name: string }): string {
  if (given.value === undefined) {
    // agents-js would silently use ws://localhost:7880: a local server must be a choice, in every mode.
    throw new UserError(
      "LIVEKIT_URL is not set; set it (or pass --url) to your LiveKit server, e.g. wss://my-project.livekit.cloud, or ws://localhost:7880 for a local server",
    );
  }
  const raw = given.value.trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  // `new URL("localhost:7880")` parses with protocol "localhost:", hence the protocol check.
  if (
    !parsed || !["ws:", "wss:", "http:", "https:"].includes(parsed.protocol) || !parsed.hostname
  ) {
    throw new UserError(
      `${given.name}="${
        redactUrl(raw)
      }" is not a LiveKit URL; use ws://, wss://, http:// or https:// and a host, e.g. wss://my-project.livekit.cloud`,
    );
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new UserError(
      `${given.name}="${
        redactUrl(raw)
      }" must not carry credentials, a query or a fragment; use the bare server URL and LIVEKIT_API_KEY/LIVEKIT_API_SECRET`,
    );
  }
  return normaliseUrl(parsed);
}

/**
 * ws(s) scheme and a path ending in "/": agents-js builds the worker URL as `url + "agent"`, so
 * `wss://host/prefix` would otherwise become `wss://host/prefixagent`.
 */
function normaliseUrl(url: URL): string {
  const out = new URL(url.href);
  out.protocol = out.protocol === "https:"
    ? "wss:"
    : out.protocol === "http:"
    ? "ws:"
    : out.protocol;
  if (!out.pathname.endsWith("/")) out.pathname += "/";
  return out.href;
}

/** An API key or secret from a flag or variable: present, not empty, no spaces or quotes. */
export function requireToken(
  given: { value?: string; name: string },
  flag: string,
  what: string,
): string {
  const label = given.name;
  if (given.value === undefined) {
    // `pick` names the variable when neither the flag nor the variable is set.
    throw new UserError(
      `${label} is not set; set it to your LiveKit project's ${what} in .env (see .env.example) or pass ${flag}`,
    );
  }
  if (given.value.trim() === "") {
    // Only a flag can be empty here (an empty variable counts as unset): never let it shadow the
    // environment, or agents-js would fall back to the variable behind the operator's back.
    throw new UserError(
      `${label} is empty; pass your LiveKit project's ${what}, or drop ${flag} to use the environment`,
    );
  }
  // A quoted or padded value in .env is the usual mistake; the server would reject it as 401.
  if (/\s|["']/.test(given.value)) {
    throw new UserError(
      `${label} contains spaces or quotes; remove them (check the quoting in your .env)`,
    );
  }
  return given.value;
}

/** A whole number from `min` to `max` from a flag or variable, or `undefined` when not given. */
export function integer(given: { value?: string; name: string }, min: number, max: number) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

function onOff(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim().toLowerCase();
  if (["on", "true", "1", "yes"].includes(v)) return true;
  if (["off", "false", "0", "no"].includes(v)) return false;
  throw new UserError(`${given.name}="${given.value}" is not valid; use on or off`);
}

function fraction(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use a CPU load above 0 and at most 1, e.g. 0.7`,
    );
  }
  return n;
}

/** Seconds (0 to 86400) from a flag or variable, or `undefined` when not given. */
export function seconds(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use seconds from 0 to 86400, e.g. 1800`,
    );
  }
  return n;
}

/** The worker options a user may type (documented ones, the token, help), for "did you mean". */
export const WORKER_FLAGS: readonly string[] = [
  ...OPTION_SPECS.map((s) => s.flag),
  "--worker-token",
  "--help",
];

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
