/**
 * Worker mode (`start`, `dev`, `connect --room NAME`): register with a LiveKit server, serve jobs,
 * drain on SIGTERM, fail clearly.
 *
 * main.ts calls {@link runWorkerCommand} with its arguments (`[command, ...flags]`) and the path of
 * the agent module. The flags and variables are agents-js's (`--url`, `--api-key`, `--api-secret`,
 * `--log-level`, `--room`, `--participant-identity`) plus the operator options of `ServerOptions`
 * (see option_specs.ts and the README table).
 *
 * Why not `cli.runApp()`: its parser cannot take the extra operator flags, its `run()` catch drops
 * the cause ("closing worker due to error"), and its signal handlers have no deadline. So this
 * module reproduces its small `runServer` (logger, `AgentServer`, `simulateJob` for `connect`,
 * signals) and keeps everything else in agents-js: `ServerOptions`, `AgentServer` (protocol,
 * process pool, health server), job processes.
 * @module
 */
import { AgentServer, initializeLogger, log, ServerOptions } from "@livekit/agents";
import { USAGE_EXIT_CODE, UserError } from "../core/errors.ts";
import { redactUrl } from "../core/redact.ts";
import { installCallHosts } from "./call_host/install.ts";
import { parseWorkerOptions, type WorkerOptions } from "./options.ts";
import { ConnectFailure, preflight } from "./preflight.ts";
import { ShutdownController } from "./shutdown.ts";
import { startLoopMonitor } from "../core/loop_monitor.ts";
import { type HealthFront, serveHealthFront } from "./health_front.ts";
import { WorkerMetrics } from "./metrics.ts";
import { METRICS_DIR_ENV, MetricsSocket } from "./metrics_socket.ts";
import { CallCapacity } from "./capacity.ts";

export { parseWorkerOptions, type WorkerOptions } from "./options.ts";
export { OPTION_SPECS } from "./option_specs.ts";
export { guardPrewarm } from "./job_process.ts";

/** Exit status when the server cannot be reached, refuses the worker, or the worker fails. */
export const FAILURE_EXIT_CODE = 1;
export { USAGE_EXIT_CODE };
export { SIGINT_EXIT_CODE, SIGTERM_EXIT_CODE } from "./shutdown.ts";

/** Options of {@link runWorkerCommand}. */
export interface RunWorkerOptions {
  /** Absolute path of the agent module (default export `defineAgent(...)`), imported by every job process. */
  agentPath: string;
  /** Environment to read (default `Deno.env`); .env must already be loaded into it. */
  env?: Pick<Deno.Env, "get">;
}

/**
 * Runs `start`, `dev` or `connect` until the process exits; never returns.
 *
 * Exit status: 2 for a user mistake (one line on stderr, `error: ...`, no stack trace: missing or
 * malformed LIVEKIT_URL/LIVEKIT_API_KEY/LIVEKIT_API_SECRET, bad flag, health port in use);
 * 1 when the server cannot be reached after the retries, rejects the credentials, or the worker
 * fails; 143 after SIGTERM, 130 after SIGINT.
 *
 * @param argv `[command, ...flags]`, e.g. `["start", "--agent-name", "exit-message"]`.
 */
export async function runWorkerCommand(argv: string[], opts: RunWorkerOptions): Promise<never> {
  let options: WorkerOptions;
  // With metrics on, this process serves the health port (`/metrics` itself, the rest passed
  // on to agents-js's health server on a loopback port): see health_front.ts.
  let front: { metrics: WorkerMetrics; upstreamPort: number; http: HealthFront } | undefined;
  // What /metrics reads from the worker once it exists.
  const live: { server?: AgentServer; load?: number } = {};
  try {
    options = parseWorkerOptions(argv, opts.env ?? Deno.env);
    checkAgentPath(opts.agentPath);
    if (options.metrics && !options.simulation) {
      const metrics = new WorkerMetrics({
        activeJobs: () => live.server?.activeJobs.length ?? 0,
        load: () => live.load,
      });
      const upstreamPort = freeLoopbackPort();
      const http = bindHealthPort(options, upstreamPort, metrics);
      front = { metrics, upstreamPort, http };
    } else {
      checkPortFree(options);
    }
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    console.error(`error: ${error.message}`);
    return Deno.exit(USAGE_EXIT_CODE);
  }

  // As agents-js's runServer: JSON lines in production, pretty lines otherwise.
  initializeLogger({ pretty: !options.production, level: options.logLevel });
  const logger = log();
  if (!options.production) {
    // agents-js sets this for dev/connect; it switches some plugins to development behaviour.
    Deno.env.set("LIVEKIT_DEV_MODE", "1");
  }

  const shutdown = new ShutdownController({
    logger: lineLogger(logger),
    drain: options.production,
    drainTimeoutMs: options.drainTimeoutMs,
    shutdownGraceMs: options.shutdownGraceMs,
  });
  // Before the preflight, so a SIGTERM during its retries exits at once.
  shutdown.install();

  try {
    await preflight({
      url: options.url,
      apiKey: options.apiKey,
      apiSecret: options.apiSecret,
      workerToken: options.workerToken,
      maxRetry: options.maxRetry,
      logger: lineLogger(logger),
      signal: shutdown.signal,
      // JSON logs are for collectors; a person starting the worker reads this line on stderr.
      firstFailure: options.production ? (line) => console.error(`warning: ${line}`) : undefined,
    });
  } catch (error) {
    if (shutdown.stopping) return await shutdown.stop("shutdown", 0);
    if (!(error instanceof ConnectFailure)) throw error;
    logger.fatal(error.message);
    return await shutdown.stop("cannot connect", FAILURE_EXIT_CODE);
  }

  if (options.callsPerProcess > 1) {
    try {
      await installCallHosts({
        agentPath: opts.agentPath,
        callsPerHost: options.callsPerProcess,
        log: (level, msg, fields) => logger[level](fields, msg),
      });
    } catch (error) {
      logger.fatal(message(error));
      return await shutdown.stop("call hosts unavailable", FAILURE_EXIT_CODE);
    }
  }
  if (front) {
    // The job processes agents-js forks inherit this variable, and report there.
    const socket = await MetricsSocket.open(front.metrics);
    Deno.env.set(METRICS_DIR_ENV, socket.dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(socket.dir, { recursive: true });
      } catch {
        // already gone
      }
    });
    logger.info(
      { port: front.http.port },
      `health and metrics on port ${front.http.port}: GET / (health), /worker, /metrics`,
    );
  }
  const so = serverOptions(
    options,
    opts.agentPath,
    front ? { host: "127.0.0.1", port: front.upstreamPort } : undefined,
  );
  const server = new AgentServer(so);
  live.server = server;
  // Remember the load agents-js reports to the server (`lk_agents_worker_load`). Wrapped after
  // the constructor, which warns about any custom load function when a worker token is set.
  const loadFunc = so.loadFunc;
  so.loadFunc = async (s) => (live.load = await loadFunc(s));
  // Before agents-js starts it in run(): the same monitor, without its own start-up reported
  // as a stall (core/loop_monitor.ts).
  startLoopMonitor("worker", { emitSpans: false });
  shutdown.attach(server);
  // agents-js's close() is a no-op until run() has started the worker (after the inference
  // process initialised): a SIGTERM in that window would be forgotten and the worker would
  // register and serve on. Closing again once it registered makes that shutdown take effect.
  server.event.on("worker_registered", () => {
    if (shutdown.stopping) void server.close();
  });

  if (options.room) {
    const { room, participantIdentity } = options;
    server.event.once("worker_registered", () => {
      logger.info(`connecting to room ${room}`);
      server.simulateJob(room, participantIdentity).catch((error: unknown) => {
        logger.fatal(`cannot start a job in room ${room}: ${message(error)}`);
        void shutdown.stop("connect failed", FAILURE_EXIT_CODE);
      });
    });
  }

  try {
    // Resolves only once close() ran, i.e. during a shutdown that ends with an exit.
    await server.run();
  } catch (error) {
    if (!shutdown.stopping) {
      // agents-js's WorkerError names the URL, the attempts and the last cause.
      logger.fatal(
        `worker stopped: ${message(error)}; check that the LiveKit server at ${
          redactUrl(options.url)
        } is running`,
      );
      return await shutdown.stop("worker failed", FAILURE_EXIT_CODE);
    }
  }
  return await shutdown.stop("worker closed", 0);
}

/**
 * Maps operator options onto agents-js's `ServerOptions`. `health`: where agents-js's own health
 * server listens instead of the operator's host and port (loopback, when this process serves the
 * health port with `/metrics`).
 */
export function serverOptions(
  options: WorkerOptions,
  agentPath: string,
  health?: { host: string; port: number },
): ServerOptions {
  const so = new ServerOptions({
    agent: agentPath,
    wsURL: options.url,
    apiKey: options.apiKey,
    apiSecret: options.apiSecret,
    workerToken: options.workerToken,
    agentName: options.agentName || undefined,
    agentNameIsEnv: options.agentNameFromEnv,
    simulation: options.simulation,
    host: health?.host ?? options.host,
    port: health?.port ?? options.port,
    numIdleProcesses: options.numIdleProcesses,
    loadThreshold: options.loadThreshold,
    drainTimeout: options.drainTimeoutMs,
    // agents-js waits this long for a process to acknowledge a shutdown request, and again for it
    // to exit after it reported "shutting down" (the goodbye itself is not bounded by it). A
    // process still prewarming never acknowledges (see job_process.ts), so keep it short, and
    // below the grace so agents-js ends a stuck process itself before our deadline does.
    shutdownProcessTimeout: Math.min(10_000, Math.max(1_000, options.shutdownGraceMs - 2_000)),
    maxRetry: options.maxRetry,
    logLevel: options.logLevel,
    production: options.production,
  });
  // The constructor treats 0 as "unset" (`x || default`), but 0 idle processes and port 0
  // (any free port) are valid operator choices.
  so.numIdleProcesses = options.numIdleProcesses;
  so.port = health?.port ?? options.port;
  // Likewise an empty agent name: the constructor falls back to LIVEKIT_AGENT_NAME, so
  // `--agent-name=` could not switch to automatic dispatch while the variable is set. The name
  // `lk simulate` dispatches to (LIVEKIT_AGENT_NAME_OVERRIDE) still wins, as in agents-js.
  if (!Deno.env.get("LIVEKIT_AGENT_NAME_OVERRIDE")) {
    so.agentName = options.agentName;
    so.agentNameIsEnv = options.agentNameFromEnv;
  }
  if (options.maxJobs !== undefined) {
    // Capacity by calls, not CPU: the machine's CPU load is shared with everything else on it,
    // and livekit-server sends no job to a worker reporting load 1, so a brief CPU spike (a new
    // idle process prewarming) would turn a call away on a small machine.
    // Each request is answered against the limit too: a burst inside one load report would
    // otherwise all be accepted (worker/capacity.ts).
    const capacity = new CallCapacity(options.maxJobs);
    so.loadFunc = (server) => {
      capacity.bind(server);
      return Promise.resolve(capacity.load());
    };
    so.requestFunc = (req) => capacity.request(req);
    so.loadThreshold = 1;
  }
  return so;
}

function checkAgentPath(path: string): void {
  try {
    if (Deno.statSync(path).isFile) return;
  } catch {
    // fall through
  }
  throw new UserError(`agent module ${path} does not exist; pass the path of agent.ts`);
}

/**
 * agents-js binds the health server without an error handler: a port in use crashes the worker
 * with a stack trace after it registered. Checking first turns that into one line.
 */
function checkPortFree(options: WorkerOptions): void {
  // Under `start --simulation` agents-js starts no health server, so the port is not ours to need.
  if (options.port === 0 || options.simulation) return;
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: options.host, port: options.port });
  } catch (error) {
    throw new UserError(portProblem(options, error));
  } finally {
    listener?.close();
  }
}

/**
 * Binds the operator's health port for the front server; a port in use is a user mistake, said in
 * one line (as {@link checkPortFree}).
 */
function bindHealthPort(
  options: WorkerOptions,
  upstreamPort: number,
  metrics: WorkerMetrics,
): HealthFront {
  try {
    return serveHealthFront({
      host: options.host,
      port: options.port,
      upstreamPort,
      metrics: async () => ({ text: await metrics.metrics(), contentType: metrics.contentType }),
    });
  } catch (error) {
    throw new UserError(portProblem(options, error));
  }
}

/**
 * A loopback port for agents-js's health server behind the front server: one the kernel picks,
 * released at once for agents-js to bind (it takes no listener; another process taking the port
 * in that instant would make agents-js fail to bind, and the worker exit).
 */
function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function portProblem(options: WorkerOptions, error: unknown): string {
  const why = error instanceof Deno.errors.AddrInUse
    ? "is already in use"
    : `cannot be bound (${message(error)})`;
  return `health port ${options.port} on ${options.host} ${why}; set HEALTH_PORT (or --port) to a free port, or 0 for any`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type PinoLike = ReturnType<typeof log>;

/** Adapts pino's (obj?, msg) signature to plain one-line calls. */
function lineLogger(logger: PinoLike) {
  return {
    info: (msg: string) => logger.info(msg),
    warn: (msg: string) => logger.warn(msg),
    error: (msg: string) => logger.error(msg),
  };
}
