/**
 * CPU and memory of the worker's process tree by role, from `/proc` (Linux; elsewhere every
 * figure is empty): `main` (this process), `inference` (agents-js's inference process, which runs
 * the local end-of-turn model) and `job` (job processes, idle or in a call).
 *
 * CPU is a counter per role that must never go down, but job processes exit after their call: the
 * last CPU time seen of a process that is gone stays in its role's total. What a process spent
 * after the last sample is lost (at most one scrape interval of one process).
 *
 * Memory: RSS, and PSS (`smaps_rollup`), which splits shared pages between the processes that map
 * them, so the roles' PSS adds up to what the worker costs the machine (the figure the density
 * measurements use).
 * @module
 */
import { listDescendants } from "../core/process_tree.ts";

/** What a process does for the worker. */
export type ProcessRole = "main" | "inference" | "job";

/** One role's figures at a sample. */
export interface RoleSample {
  /** User + system CPU seconds, including processes of this role that exited. */
  cpuSeconds: number;
  /** Sum of the live processes' RSS. */
  rssBytes: number;
  /** Sum of the live processes' PSS. */
  pssBytes: number;
  /** Live processes. */
  count: number;
}

// Linux's USER_HZ: the unit of /proc/<pid>/stat's utime and stime, 100 on every mainstream arch.
const TICKS_PER_SECOND = 100;

/** Samples a process tree's CPU and memory by role. */
export class ProcessStats {
  readonly #root: number;
  /** Last CPU seconds seen of each live pid, with its role. */
  #live = new Map<number, { role: ProcessRole; cpu: number }>();
  /** CPU seconds of processes that are gone, by role. */
  #retired = new Map<ProcessRole, number>();

  /** Samples the tree below `root` (this process by default). */
  constructor(root: number = Deno.pid) {
    this.#root = root;
  }

  /** Live descendants of the root (`lk_agents_child_process_count`). */
  childCount(): number {
    return Deno.build.os === "linux" ? listDescendants(this.#root).length : 0;
  }

  /** One sample: each role's figures (no entry for a role never seen). */
  sample(): Map<ProcessRole, RoleSample> {
    const out = new Map<ProcessRole, RoleSample>();
    if (Deno.build.os !== "linux") return out;
    const seen = new Map<number, { role: ProcessRole; cpu: number }>();
    for (const pid of [this.#root, ...listDescendants(this.#root)]) {
      const role = pid === this.#root ? "main" : roleOf(pid);
      if (!role) continue;
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue; // gone meanwhile
      seen.set(pid, { role, cpu });
      const s = out.get(role) ?? { cpuSeconds: 0, rssBytes: 0, pssBytes: 0, count: 0 };
      const mem = memory(pid);
      s.cpuSeconds += cpu;
      s.rssBytes += mem.rss;
      s.pssBytes += mem.pss;
      s.count++;
      out.set(role, s);
    }
    for (const [pid, last] of this.#live) {
      if (!seen.has(pid)) {
        this.#retired.set(last.role, (this.#retired.get(last.role) ?? 0) + last.cpu);
      }
    }
    this.#live = seen;
    for (const [role, cpu] of this.#retired) {
      const s = out.get(role) ?? { cpuSeconds: 0, rssBytes: 0, pssBytes: 0, count: 0 };
      s.cpuSeconds += cpu;
      out.set(role, s);
    }
    return out;
  }
}

/** The role of a descendant, from the agents-js module it runs (undefined: not the worker's). */
export function roleOf(pid: number): ProcessRole | undefined {
  let cmdline: string;
  try {
    cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
  } catch {
    return undefined;
  }
  if (cmdline.includes("inference_proc_lazy_main")) return "inference";
  if (cmdline.includes("job_proc_lazy_main")) return "job";
  // A call host (worker/call_host/) is a job process that runs several calls.
  if (cmdline.includes("call_host/host_main")) return "job";
  return undefined;
}

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    return (utime + stime) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function memory(pid: number): { rss: number; pss: number } {
  try {
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const kb = (key: string) =>
      Number(rollup.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
    return { rss: kb("Rss") * 1024, pss: kb("Pss") * 1024 };
  } catch {
    return { rss: 0, pss: 0 };
  }
}
