/**
 * The call host process: `fork(host_main.ts, [agentPath])` from the worker (`hosts.ts`). It
 * imports the agent module once, runs its prewarm once (the Silero VAD in `proc.userData`,
 * shared by every call here), then serves channels: for each, the job-process side of agents-js's
 * IPC (`initializeRequest` answered once prewarm is done, pings, `startJobRequest`,
 * `shutdownRequest`), with each job run by `job_runner.ts`.
 *
 * One call's failure stays its own: a job whose entry throws is closed like agents-js closes a
 * crashed job, and the host goes on; an unhandled rejection is logged. What cannot be contained
 * in a process shared by calls, a blocked event loop or a native crash, ends every call here:
 * the worker's pings find the host unresponsive and kill it, as they would a job process.
 *
 * @module
 */
import {
  type AgentDefinition,
  getJobContext,
  initializeLogger,
  isAgent,
  JobProcess,
  log,
} from "@livekit/agents";
import { dispose } from "@livekit/rtc-node";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { routeLogsByJob } from "../../core/log.ts";
import { setJobRelease } from "../../core/job_release.ts";
import { jobLifecycle } from "./agents_internals.ts";
import { HostedJob } from "./job_runner.ts";
import type { AgentsMessage, FromHost, ToHost } from "./protocol.ts";

interface Channel {
  ch: number;
  job?: HostedJob;
  /** A job was asked for and is being set up (its prewarm may still run). */
  starting?: boolean;
  /** The worker asked this channel to shut down. */
  shuttingDown?: boolean;
  closed?: boolean;
}

const channels = new Map<number, Channel>();
let retiring = false;
let prewarmed: Promise<{ proc: JobProcess; sessionEndTimeout: number }> | undefined;
let agent: AgentDefinition | undefined;

function toWorker(msg: FromHost): void {
  try {
    if (process.connected) process.send?.(msg);
  } catch { /* the worker is gone: 'disconnect' ends this process */ }
}

function send(ch: number, msg: AgentsMessage): void {
  toWorker({ ch, msg });
}

function closeChannel(c: Channel, closed: { code: number | null; signal?: string }): void {
  if (c.closed) return;
  c.closed = true;
  channels.delete(c.ch);
  toWorker({ ch: c.ch, closed: { ...closed, served: c.job !== undefined } });
  if (retiring && channels.size === 0) void exitHost(0);
}

function retire(why: string): void {
  if (retiring) return;
  retiring = true;
  toWorker({ retiring: why });
  if (channels.size === 0) void exitHost(0);
}

let exiting = false;
async function exitHost(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    // Native resources first, as agents-js's job process does (rtc-node issue 564).
    try {
      await dispose();
    } catch { /* exiting anyway */ }
  }
  return Deno.exit(code);
}

async function loadAgent(path: string): Promise<AgentDefinition> {
  const module = await import(pathToFileURL(path).href);
  const candidate = typeof module.default === "function" || isAgent(module.default)
    ? module.default
    : module.default?.default;
  if (!isAgent(candidate)) {
    throw new Error(`the agent module ${path} has no default export made by defineAgent()`);
  }
  return candidate;
}

function prewarm(loggerOptions: unknown, sessionEndTimeout: unknown) {
  return prewarmed ??= (async () => {
    initializeLogger(loggerOptions as Parameters<typeof initializeLogger>[0]);
    // agents-js's logger is process-wide; each call's lines carry its own job and room.
    routeLogsByJob(() => getJobContext(false)?.job.id);
    const lifecycle = await jobLifecycle();
    const timeout = lifecycle.validateSessionEndTimeout(Number(sessionEndTimeout ?? NaN));
    agent = await loadAgent(process.argv[2]!);
    const proc = new JobProcess();
    log().debug({ pid: proc.pid }, "call host prewarming");
    await agent.prewarm?.(proc);
    log().debug({ pid: proc.pid }, "call host prewarmed");
    return { proc, sessionEndTimeout: timeout, lifecycle };
  })();
}

async function onInitialize(c: Channel, value: Record<string, unknown>): Promise<void> {
  try {
    await prewarm(value.loggerOptions, value.sessionEndTimeout);
  } catch (error) {
    console.error(`call host: prewarm failed: ${error instanceof Error ? error.message : error}`);
    return await exitHost(1);
  }
  if (!c.closed) send(c.ch, { case: "initializeResponse", value: undefined });
}

async function onStartJob(c: Channel, value: Record<string, unknown>): Promise<void> {
  if (c.job) throw new Error(`channel ${c.ch} already runs a job`);
  const { proc, sessionEndTimeout } = await prewarm(undefined, undefined);
  const lifecycle = await jobLifecycle();
  // Killed while it was being set up: no job is started on a closed channel.
  if (c.closed) return;
  const job = new HostedJob(
    { proc, agent: agent!, lifecycle, sessionEndTimeout, send: (msg) => send(c.ch, msg) },
    (value as { runningJob: ConstructorParameters<typeof HostedJob>[1] }).runningJob,
  );
  c.job = job;
  log().debug({ jobID: job.id }, "job started");
  if (c.shuttingDown) job.close("shutdown request");
  await job.finished.catch((error) => {
    log().error({ error: String(error) }, "a call's job sequence failed");
  });
  if (!job.abandoned) closeChannel(c, { code: 0 });
}

function onShutdown(c: Channel, value: Record<string, unknown> | undefined): void {
  send(c.ch, { case: "shutdownRequestAck", value: undefined });
  c.shuttingDown = true;
  // A job being set up is closed as soon as it exists (onStartJob).
  if (!c.job && !c.starting) {
    send(c.ch, { case: "shuttingDown", value: undefined });
    closeChannel(c, { code: 0 });
    return;
  }
  c.job?.close(String(value?.reason ?? "shutdown request"));
}

/**
 * Ends channel `c` now, its job given up (`killed`: the worker asked for a kill; otherwise the
 * forced ending released it). The host retires: the abandoned job may still hold memory.
 */
async function abandon(c: Channel, why: string, killed: boolean): Promise<void> {
  if (c.closed) return;
  if (c.job) {
    log().warn(
      { jobID: c.job.id, why },
      "giving up a call in its call host; the host takes no new calls and exits when its others end",
    );
    await c.job.abandon();
    retire(`a call was given up (${why})`);
  }
  closeChannel(c, killed ? { code: null, signal: "SIGKILL" } : { code: 0 });
}

function onMessage(msg: ToHost): void {
  if ("retire" in msg) return retire("the worker retired it");
  let c = channels.get(msg.ch);
  if (!c) {
    if ("kill" in msg) return;
    c = { ch: msg.ch };
    channels.set(msg.ch, c);
  }
  if ("kill" in msg) return void abandon(c, "the worker killed its job", true);
  const { case: kind, value } = msg.msg;
  const v = (value ?? {}) as Record<string, unknown>;
  switch (kind) {
    case "initializeRequest":
      void onInitialize(c, v);
      break;
    case "pingRequest":
      send(c.ch, {
        case: "pongResponse",
        value: { lastTimestamp: v.timestamp, timestamp: Date.now() },
      });
      break;
    case "startJobRequest":
      c.starting = true;
      void onStartJob(c, v).catch((error) => {
        log().error({ error: String(error) }, "a call could not start in the call host");
        closeChannel(c!, { code: 1 });
      });
      break;
    case "shutdownRequest":
      onShutdown(c, value as Record<string, unknown> | undefined);
      break;
    default:
      c.job?.deliver(msg.msg);
  }
}

if (import.meta.main) {
  if (!process.send) {
    console.error("call host: must be started by the worker (fork with an IPC channel)");
    Deno.exit(2);
  }
  // The worker owns the signals: it drains and ends the hosts itself (as agents-js's job
  // processes ignore SIGINT and SIGTERM).
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  // One call's stray rejection must not end the others.
  process.on("unhandledRejection", (reason) => {
    try {
      log().warn({ error: String(reason) }, "unhandled rejection in the call host");
    } catch { /* logger not ready */ }
  });
  // A job that gave up on a stuck close frees its channel here instead of exiting the process.
  setJobRelease((jobId: string) => {
    const c = [...channels.values()].find((x) => x.job?.id === jobId);
    if (!c) return false;
    void abandon(c, "the forced ending gave up on a stuck close", false);
    return true;
  });
  process.on("message", onMessage);
  // Worker gone: nothing can supervise these calls any more.
  process.on("disconnect", () => void exitHost(0));
}
