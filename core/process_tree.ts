/**
 * Finds and ends a process's descendants by PID.
 *
 * agents-js forks job processes and an inference process, and its own close can hang (see
 * shutdown.ts), so the worker's last resort is to end whatever is still below it. Linux: read
 * `/proc/<pid>/stat`; elsewhere fall back to `ps -A -o pid=,ppid=`.
 * @module
 */

/** PIDs of every live descendant of `root` (children first, then theirs), excluding `root`. */
export function listDescendants(root: number = Deno.pid): number[] {
  const parentOf = readParentMap();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (Deno.build.os === "linux") {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return parseStat(stat)?.state !== "Z";
    } catch {
      return false;
    }
  }
  return readParentMap().has(pid);
}

/**
 * Ends every descendant of `root` with SIGKILL and returns their PIDs.
 *
 * The tree is frozen first (SIGSTOP) so no process can fork or be re-parented between listing and
 * killing; a parent killed before its child would otherwise orphan the child to init, out of
 * reach of the next listing.
 */
export function killDescendants(root: number = Deno.pid): number[] {
  const seen = new Set<number>();
  // A couple of passes: a process could fork between the first listing and its SIGSTOP.
  for (let pass = 0; pass < 3; pass++) {
    const pids = listDescendants(root).filter((p) => !seen.has(p));
    if (pids.length === 0) break;
    for (const pid of pids) signal(pid, "SIGSTOP");
    for (const pid of pids) seen.add(pid);
  }
  for (const pid of seen) signal(pid, "SIGKILL");
  return [...seen];
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // Already gone: nothing to end.
  }
}

function parseStat(stat: string): { ppid: number; state: string } | undefined {
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ")".
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const [state, ppid] = stat.slice(close + 2).split(" ");
  if (state === undefined || ppid === undefined) return undefined;
  return { state, ppid: Number(ppid) };
}

function readParentMap(): Map<number, number> {
  const map = new Map<number, number>();
  if (Deno.build.os === "linux") {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const parsed = parseStat(Deno.readTextFileSync(`/proc/${entry.name}/stat`));
        // Zombies are already dead; their parent reaps them.
        if (parsed && parsed.state !== "Z") map.set(Number(entry.name), parsed.ppid);
      } catch {
        // The process exited while we were reading: skip it.
      }
    }
    return map;
  }
  const out = new Deno.Command("ps", { args: ["-A", "-o", "pid=,ppid="], stdout: "piped" })
    .outputSync();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid && ppid !== undefined && !Number.isNaN(ppid)) map.set(pid, ppid);
  }
  return map;
}
