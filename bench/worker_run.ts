/**
 * One worker run: `main.ts start` under one runtime against the loopback worker endpoint
 * stand-in (`testing/fakes/worker_server.ts`), timed from launch to registered with every idle job
 * process prewarmed; then the memory of each process of the idle worker.
 *
 * @module
 */
import { WorkerServerStandIn } from "../testing/fakes/worker_server.ts";
import { Child, killPids, type ProcMemory, pssKiB, sleep, TreeSampler } from "./proc.ts";
import { childEnv, type Runtime } from "./runtimes.ts";

/** Role of one process of a worker's tree. */
export type ProcessRole = "main" | "inference" | "job" | "other";

/** One process of the idle worker. */
export interface WorkerProcess {
  role: ProcessRole;
  pid: number;
  rssKiB: number;
  /** Proportional set size (shared pages divided among their sharers). */
  pssKiB: number;
  hwmKiB: number;
}

/** What one worker run measured (ms unless named otherwise). */
export interface WorkerRun {
  /** Launch to the register response received by the worker (`registered worker` logged). */
  registeredMs: number;
  /** Launch to the last idle process's `silero VAD loaded`. */
  prewarmedMs: number;
  /** Launch to both: registered and every idle process prewarmed. */
  coldStartMs: number;
  /** Silero VAD load time in each idle process (from prewarm.ts's own debug line). */
  vadLoadMs: number[];
  /** Job processes of the idle worker (call hosts count as job processes). */
  idleProcesses: number;
  /** Every process of the idle worker, 2 s after it was ready. */
  processes: WorkerProcess[];
  /** Total RSS of the idle worker, KiB. */
  totalRssKiB: number;
}

/** Classifies a process of the worker's tree by its command line. */
export function roleOf(m: Pick<ProcMemory, "cmd">, root: boolean): ProcessRole {
  if (root) return "main";
  if (/inference_proc/.test(m.cmd)) return "inference";
  // A call host (worker/call_host/) is this project's job process: it prewarms and runs calls.
  if (/job_proc|host_main/.test(m.cmd)) return "job";
  return "other";
}

/** Parses prewarm.ts's `silero VAD loaded` line (JSON in `start`), or undefined. */
export function vadLoadFromLine(line: string): number | undefined {
  if (!line.includes("silero VAD loaded")) return undefined;
  try {
    const o = JSON.parse(line.slice(line.indexOf("{")));
    return typeof o.ms === "number" ? o.ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `start` with `idle` idle processes under `rt`, waits until it is registered and
 * prewarmed, measures, and kills the whole tree by PID. Bounded by `timeoutMs`.
 */
export async function workerRun(rt: Runtime, idle: number, timeoutMs = 90_000): Promise<WorkerRun> {
  const si = await WorkerServerStandIn.start();
  let child: Child | undefined;
  let sampler: TreeSampler | undefined;
  const deadline = setTimeout(() => void child?.kill(), timeoutMs);
  try {
    const { apiKey, apiSecret } = si.credentials;
    child = new Child(rt.cmd, [
      ...rt.prefix,
      "start",
      "--port",
      "0",
      "--num-idle-processes",
      String(idle),
      "--log-level",
      "debug",
    ], {
      cwd: rt.cwd,
      env: childEnv({
        ...rt.env,
        LIVEKIT_URL: si.url,
        LIVEKIT_API_KEY: apiKey,
        LIVEKIT_API_SECRET: apiSecret,
        // Never used while idle; set so nothing falls back to LiveKit Cloud.
        LIVEKIT_INFERENCE_URL: "http://127.0.0.1:9/v1",
      }),
    });
    sampler = new TreeSampler(child.pid, 50);
    const c = child;
    const conn = await Promise.race([
      si.nextWorker(timeoutMs),
      c.exited.then(() => {
        throw new Error(`worker exited before connecting:\n${c.tail(20)}`);
      }),
    ]);
    await conn.register("AW_bench");
    const registered = await c.waitForLine(/registered worker/, timeoutMs);
    // Every job process prewarms once: `idle` of them with agents-js's executor, fewer with call
    // hosts (several idle calls to a host). Prewarmed: a VAD loaded per job process there is,
    // and no new one for a second.
    const vad: { t: number; ms: number }[] = [];
    let stableSince: number | undefined;
    while (true) {
      const seen = c.lines.flatMap((l) => {
        const ms = vadLoadFromLine(l.line);
        return ms === undefined ? [] : [{ t: l.t, ms }];
      });
      const jobs = sampler.sample().filter((m) => roleOf(m, m.pid === c.pid) === "job").length;
      const done = seen.length >= Math.max(1, Math.min(idle, jobs));
      if (!done || seen.length !== vad.length) stableSince = undefined;
      else stableSince ??= performance.now();
      vad.splice(0, vad.length, ...seen);
      if (stableSince !== undefined && performance.now() - stableSince >= 1000) break;
      if (c.done) throw new Error(`worker exited while prewarming:\n${c.tail(20)}`);
      await sleep(20);
    }
    const prewarmedAt = Math.max(...vad.map((v) => v.t), c.startedAt);
    await sleep(2000); // idle, settled
    const now = sampler.sample();
    sampler.stop();
    const processes = now.map((m) => ({
      role: roleOf(m, m.pid === c.pid),
      pid: m.pid,
      rssKiB: m.rssKiB,
      pssKiB: pssKiB(m.pid),
      hwmKiB: m.hwmKiB,
    }));
    return {
      registeredMs: registered.t - c.startedAt,
      prewarmedMs: prewarmedAt - c.startedAt,
      coldStartMs: Math.max(registered.t, prewarmedAt) - c.startedAt,
      vadLoadMs: vad.map((v) => v.ms),
      idleProcesses: processes.filter((p) => p.role === "job").length,
      processes,
      totalRssKiB: processes.reduce((s, p) => s + p.rssKiB, 0),
    };
  } catch (e) {
    throw new Error(`${rt.name} worker run failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(deadline);
    sampler?.stop();
    await child?.kill();
    if (sampler) killPids(sampler.seen.keys());
    await si.close();
  }
}
