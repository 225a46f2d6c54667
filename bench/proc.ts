/**
 * Processes for the benchmark: spawn a runtime's child with captured output, read memory of a
 * process tree from /proc, and end everything by PID.
 *
 * @module
 */

import { availableParallelism, cpus, hostname, totalmem } from "node:os";

/** The machine a benchmark ran on, as its results record it. */
export interface MachineInfo {
  hostname: string;
  cpu: string;
  cores: number;
  memGiB: number;
  /** Linux kernel release; empty elsewhere. */
  kernel: string;
}

/** This machine, for a benchmark's results. */
export function machineInfo(): MachineInfo {
  let kernel = "";
  try {
    kernel = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  } catch { /* not linux */ }
  return {
    hostname: hostname(),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
  };
}

/** Memory of one process, from `/proc/<pid>/status`, in KiB. */
export interface ProcMemory {
  pid: number;
  ppid: number;
  /** Current resident set size. */
  rssKiB: number;
  /** Peak resident set size (VmHWM). */
  hwmKiB: number;
  /** What the process runs (its cmdline, shortened). */
  cmd: string;
}

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: after[0], ppid: Number(after[1]) };
  } catch {
    return undefined;
  }
}

/** Memory of `pid`, or undefined when it is gone (or a zombie). */
export function procMemory(pid: number): ProcMemory | undefined {
  const st = readStat(pid);
  if (!st || st.state === "Z") return undefined;
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    let cmd = "";
    try {
      cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean).join(" ");
    } catch { /* raced with exit */ }
    return { pid, ppid: st.ppid, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM"), cmd };
  } catch {
    return undefined;
  }
}

/**
 * Proportional set size of `pid` in KiB (`/proc/<pid>/smaps_rollup`), or 0 when it cannot be
 * read. Unlike RSS it divides shared pages among the processes sharing them, so it sums fairly
 * over a tree of forked processes (Python's job processes share the forkserver's pages).
 */
export function pssKiB(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Every live descendant of `root` (children first, then theirs). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = readStat(Number(e.name));
    if (st && st.state !== "Z") parents.set(Number(e.name), st.ppid);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Memory of `root` and all its descendants. */
export function treeMemory(root: number): ProcMemory[] {
  return [root, ...descendants(root)].map(procMemory).filter((m): m is ProcMemory => !!m);
}

/**
 * Polls a process tree's memory every `intervalMs` and keeps, per PID, the highest VmHWM seen
 * and the last reading, so peaks of processes that exit are not lost.
 */
export class TreeSampler {
  /** Last reading of each PID ever seen (peak in `hwmKiB`). */
  readonly seen = new Map<number, ProcMemory>();
  #timer: ReturnType<typeof setInterval>;

  constructor(readonly root: number, intervalMs = 25) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one reading now. */
  sample(): ProcMemory[] {
    const now = treeMemory(this.root);
    for (const m of now) {
      const prev = this.seen.get(m.pid);
      this.seen.set(m.pid, { ...m, hwmKiB: Math.max(m.hwmKiB, prev?.hwmKiB ?? 0) });
    }
    return now;
  }

  /** Stops polling. */
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A child process with its output captured line by line, stamped with `performance.now()`. */
export class Child {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly lines: { t: number; line: string }[] = [];
  readonly startedAt: number;
  /** Resolves with the exit status and when it was seen. */
  readonly exited: Promise<{ status: Deno.CommandStatus; t: number }>;
  #waiters: { re: RegExp; resolve: (l: { t: number; line: string }) => void }[] = [];
  #pumps: Promise<void>[];
  #done = false;

  constructor(cmd: string, args: string[], opts: { env: Record<string, string>; cwd: string }) {
    this.startedAt = performance.now();
    this.child = new Deno.Command(cmd, {
      args,
      env: opts.env,
      clearEnv: true,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    this.exited = this.child.status.then((status) => {
      this.#done = true;
      return { status, t: performance.now() };
    });
    this.#pumps = [this.#pump(this.child.stdout), this.#pump(this.child.stderr)];
  }

  /** True once the process has exited. */
  get done(): boolean {
    return this.#done;
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of stream) {
        const t = performance.now();
        rest += dec.decode(chunk, { stream: true });
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) this.#push({ t, line });
      }
    } catch { /* torn down */ }
    if (rest) this.#push({ t: performance.now(), line: rest });
  }

  #push(l: { t: number; line: string }): void {
    this.lines.push(l);
    for (const w of [...this.#waiters]) {
      if (w.re.test(l.line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  }

  /** Resolves with the first line (past or future) matching `re`; rejects after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<{ t: number; line: string }> {
    const hit = this.lines.find((l) => re.test(l.line));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; last: ${this.tail()}`));
      }, timeoutMs);
      const done = (l: { t: number; line: string }) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.#waiters.push({ re, resolve: done });
    });
  }

  /** The last lines of output, for error messages. */
  tail(n = 8): string {
    return this.lines.slice(-n).map((l) => l.line).join("\n");
  }

  /**
   * Ends the child and every descendant by PID (SIGKILL), waits for the exit and the output
   * pumps. Safe to call more than once.
   */
  async kill(): Promise<void> {
    const pids = this.#done ? [] : [...descendants(this.pid).reverse(), this.pid];
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await this.exited;
    // Orphans re-parented away from the dead leader are found by their command line.
    await Promise.all(this.#pumps);
  }
}

/** Kills by PID every listed process still alive (stragglers of a run). */
export function killPids(pids: Iterable<number>): number[] {
  const killed: number[] = [];
  for (const pid of pids) {
    const st = readStat(pid);
    if (!st || st.state === "Z") continue;
    try {
      Deno.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch { /* gone */ }
  }
  return killed;
}

/** `/proc/loadavg`'s three averages. */
export function loadavg(): [number, number, number] {
  try {
    const [a, b, c] = Deno.readTextFileSync("/proc/loadavg").split(" ").map(Number);
    return [a, b, c];
  } catch {
    return [NaN, NaN, NaN];
  }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

/**
 * CPU time of a process tree, in seconds: `root`'s own (user + system), the time of its
 * children that exited and were reaped (`cutime` + `cstime`, which the kernel adds to the
 * parent), and the time of every live descendant. Sampled before and after a load, the
 * difference is what the whole tree spent, job processes that came and went included.
 */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  const fields = (pid: number) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    } catch {
      return undefined;
    }
  };
  // After ")": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  const own = fields(root);
  if (own) ticks += own[11] + own[12] + own[13] + own[14];
  for (const pid of descendants(root)) {
    const f = fields(pid);
    // A live child's own time; its reaped children are in its cutime/cstime.
    if (f) ticks += f[11] + f[12] + f[13] + f[14];
  }
  return ticks / CLOCK_TICKS;
}
