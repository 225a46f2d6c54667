/**
 * One worker run of the Python peer: `python exit_message.py start` against the same loopback
 * stand-in of the worker endpoint that `bench/worker_run.ts` uses for Deno and Node, timed from
 * launch to registered with every idle process initialized (the recipe's `prewarm` runs in each),
 * then the memory of each process of the idle worker.
 *
 * Python's tree differs from agents-js's: the main process, a `multiprocessing` resource tracker,
 * a forkserver that preloads the plugins once, and the idle job processes forked from it (so they
 * share pages with it: RSS double-counts those, PSS does not; both are recorded).
 *
 * @module
 */
import { WorkerServerStandIn } from "../../testing/fakes/worker_server.ts";
import { killPids, type ProcMemory, pssKiB, sleep, TreeSampler } from "../proc.ts";
import { parseLogLine, type PeerLogLine, startPythonWorker, waitRegistered } from "./launcher.ts";
import type { PythonPeer } from "./setup.ts";

/** Role of one process of the Python worker's tree. */
export type PythonProcessRole = "main" | "forkserver" | "resource_tracker" | "job" | "other";

/** One process of the idle worker. */
export interface PythonWorkerProcess {
  role: PythonProcessRole;
  pid: number;
  rssKiB: number;
  /** Proportional set size: shared pages divided among the processes sharing them. */
  pssKiB: number;
  hwmKiB: number;
}

/** What one Python worker run measured (ms unless named otherwise). */
export interface PythonWorkerRun {
  /** Launch to `starting worker` (interpreter up, the recipe and livekit.agents imported). */
  importedMs: number;
  /** Launch to `registered worker` (the register response received). */
  registeredMs: number;
  /** Launch to the last idle process's `process initialized`. */
  prewarmedMs: number;
  /** Launch to both: registered and every idle process initialized. */
  coldStartMs: number;
  /**
   * Per idle process: `initializing process` to `process initialized`, from the main process's
   * own log timestamps. That is the recipe's `prewarm` (Silero VAD load) plus the IPC round trip.
   */
  processInitMs: number[];
  /** Idle job processes the worker keeps (Python's default: one per CPU in production). */
  idleProcesses: number;
  /** Every process of the idle worker, 2 s after it was ready. */
  processes: PythonWorkerProcess[];
  /** Total RSS of the idle worker, KiB (double-counts pages shared with the forkserver). */
  totalRssKiB: number;
  /** Total PSS of the idle worker, KiB. */
  totalPssKiB: number;
  /** How the worker ended on SIGTERM (idle: should be at once, exit 0, nothing left). */
  sigterm: { code: number; exitMs: number; forced: boolean; leftovers: number };
}

/** Classifies a process of the Python worker's tree by its command line. */
export function pythonRoleOf(m: Pick<ProcMemory, "cmd" | "ppid">, root: number, pid: number) {
  if (pid === root) return "main" as const;
  if (/multiprocessing\.resource_tracker/.test(m.cmd)) return "resource_tracker" as const;
  if (/multiprocessing\.forkserver/.test(m.cmd)) {
    // Job processes are forked from the forkserver and keep its command line.
    return m.ppid === root ? "forkserver" as const : "job" as const;
  }
  return "other" as const;
}

/** Milliseconds of a Python JSON log line's `timestamp` (ISO 8601 with microseconds). */
export function logTimeMs(l: PeerLogLine): number | undefined {
  if (typeof l.timestamp !== "string") return undefined;
  const t = Date.parse(l.timestamp);
  if (!Number.isFinite(t)) return undefined;
  // Date.parse keeps milliseconds; add the microseconds it drops.
  const micro = /\.\d{3}(\d{3})/.exec(l.timestamp)?.[1];
  return t + (micro ? Number(micro) / 1000 : 0);
}

/** `initializing process` → `process initialized` per job PID, from the worker's JSON lines. */
export function processInitTimes(lines: PeerLogLine[]): number[] {
  const started = new Map<number, number>();
  const out: number[] = [];
  for (const l of lines) {
    const pid = typeof l.pid === "number" ? l.pid : undefined;
    const t = logTimeMs(l);
    if (pid === undefined || t === undefined) continue;
    // Both lines are logged by the main process, with the job's pid in `extra`.
    if (l.message === "initializing process") started.set(pid, t);
    if (l.message === "process initialized" && started.has(pid)) out.push(t - started.get(pid)!);
  }
  return out;
}

/**
 * Runs `start` with Python's default idle processes, waits until registered and every idle
 * process is initialized, measures, then SIGTERMs it and ends anything left by PID.
 */
export async function pythonWorkerRun(
  peer: PythonPeer,
  timeoutMs = 120_000,
): Promise<PythonWorkerRun> {
  const si = await WorkerServerStandIn.start();
  const { apiKey, apiSecret } = si.credentials;
  const worker = startPythonWorker(peer, {
    mode: "start",
    livekitUrl: si.url,
    apiKey,
    apiSecret,
    // Never used while idle; set so nothing falls back to LiveKit Cloud.
    inferenceUrl: "http://127.0.0.1:9/v1",
  });
  const c = worker.child;
  const sampler = new TreeSampler(c.pid, 50);
  const deadline = setTimeout(() => void worker.kill(), timeoutMs);
  try {
    const conn = await Promise.race([
      si.nextWorker(timeoutMs),
      c.exited.then(() => {
        throw new Error(`python worker exited before connecting:\n${c.tail(20)}`);
      }),
    ]);
    await conn.register("AW_bench_python");
    const registered = await waitRegistered(worker, timeoutMs);
    const imported = await worker.waitForLine(/"message": "starting worker"/, timeoutMs);
    // Python keeps one idle process per CPU in production; wait for as many as it starts.
    let initialized: { t: number; line: string }[] = [];
    for (;;) {
      const starting = c.lines.filter((l) =>
        parseLogLine(l.line)?.message === "initializing process"
      );
      initialized = c.lines.filter((l) => parseLogLine(l.line)?.message === "process initialized");
      if (starting.length > 0 && initialized.length >= starting.length) break;
      if (c.done) throw new Error(`python worker exited while prewarming:\n${c.tail(20)}`);
      await sleep(20);
    }
    const prewarmedAt = Math.max(...initialized.map((l) => l.t));
    await sleep(2000); // idle, settled
    const now = sampler.sample();
    sampler.stop();
    const processes = now.map((m) => ({
      role: pythonRoleOf(m, c.pid, m.pid),
      pid: m.pid,
      rssKiB: m.rssKiB,
      pssKiB: pssKiB(m.pid),
      hwmKiB: m.hwmKiB,
    }));
    const stop = await worker.stop("SIGTERM", 15_000);
    return {
      importedMs: imported.t - c.startedAt,
      registeredMs: registered.t - c.startedAt,
      prewarmedMs: prewarmedAt - c.startedAt,
      coldStartMs: Math.max(registered.t, prewarmedAt) - c.startedAt,
      processInitMs: processInitTimes(worker.logs()),
      idleProcesses: processes.filter((p) => p.role === "job").length,
      processes,
      totalRssKiB: processes.reduce((s, p) => s + p.rssKiB, 0),
      totalPssKiB: processes.reduce((s, p) => s + p.pssKiB, 0),
      sigterm: {
        code: stop.code,
        exitMs: stop.exitMs,
        forced: stop.forced,
        leftovers: stop.leftovers.length,
      },
    };
  } catch (e) {
    throw new Error(`python worker run failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(deadline);
    sampler.stop();
    await worker.kill();
    killPids(sampler.seen.keys());
    await si.close();
  }
}
