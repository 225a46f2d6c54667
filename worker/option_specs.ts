/**
 * The table of worker options (flag, variable, help line, default as said to the operator) and the
 * default values behind it. help.ts prints the table, the parser in options.ts applies the
 * defaults, and deploy/deploy_test.ts holds the deploy files to them.
 * @module
 */

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
/** Connection retries before the worker gives up by default (`MAX_RETRY`). */
export const DEFAULT_MAX_RETRY = 10;
/**
 * Seconds jobs get to end after the drain by default (`SHUTDOWN_GRACE`). Covers the goodbye path
 * of a job ended at shutdown (core/bounds.ts: session close <= 30 s).
 */
export const DEFAULT_SHUTDOWN_GRACE_S = 30;

/** The worker options a user may type (documented ones, the token, help), for "did you mean". */
export const WORKER_FLAGS: readonly string[] = [
  ...OPTION_SPECS.map((s) => s.flag),
  "--worker-token",
  "--help",
];
