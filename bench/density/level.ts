/**
 * One level of a density run: a fresh worker of one runtime (so no level inherits the last
 * one's processes or stuck jobs), settled, then N concurrent calls (`call.ts`) from callers
 * spread over caller processes, while the worker tree's CPU time and memory and the callers' CPU
 * time are read from /proc. Everything it starts it ends by PID.
 *
 * @module
 */
import { CallerProcess } from "../../testing/real_room/caller/mod.ts";
import { CALLER_VOICE, type RealRoom } from "../../testing/real_room/real_room.ts";
import { loadavg, pssKiB, sleep, treeCpuSeconds, treeMemory } from "../proc.ts";
import { type Peers, RoomAgent } from "../python_peer/room_agent.ts";
import { firstSentence } from "../python_peer/room_call.ts";
import { runCall } from "./call.ts";
import type { RuntimeSpec } from "./plan.ts";
import type { CallRecord, CpuWindow, LevelSamples, TreeMemory } from "./samples.ts";

/** Capacity in calls, far above any level: no call is turned away for the machine's CPU use. */
export const MAX_JOBS = 64;
/** How often the tree's memory is read during the calls. */
const MEMORY_EVERY_MS = 1_000;

/** Options of {@link runLevel}. */
export interface LevelOptions {
  talkSeconds: number;
  callersPerProcess: number;
  silenceMs: number;
  /** Between one call's join and the next one's, ms (0: all at once). */
  staggerMs: number;
}

/** RSS and PSS of the tree of `root` now. */
export function treeNow(root: number): TreeMemory {
  const tree = treeMemory(root);
  return {
    rssKiB: tree.reduce((s, m) => s + m.rssKiB, 0),
    pssKiB: tree.reduce((s, m) => s + pssKiB(m.pid), 0),
    processes: tree.length,
  };
}

/** Waits (bounded) until the tree's RSS and process count hold still; returns its memory. */
async function settled(root: number, timeoutMs = 45_000): Promise<TreeMemory> {
  const deadline = performance.now() + timeoutMs;
  const readings: TreeMemory[] = [];
  await sleep(2_000);
  while (performance.now() < deadline) {
    readings.push(treeNow(root));
    const last = readings.slice(-4);
    if (
      last.length === 4 && last.every((r) => r.processes === last[0].processes) &&
      Math.max(...last.map((r) => r.rssKiB)) <= 1.01 * Math.min(...last.map((r) => r.rssKiB))
    ) {
      return last[3];
    }
    await sleep(500);
  }
  return treeNow(root);
}

interface CpuMark {
  t: number;
  tree: number;
  callers: number;
}

function mark(root: number, callers: number[]): CpuMark {
  return {
    t: performance.now(),
    tree: treeCpuSeconds(root),
    callers: callers.reduce((s, pid) => s + treeCpuSeconds(pid), 0),
  };
}

function windowOf(a: CpuMark, b: CpuMark): CpuWindow {
  return {
    seconds: (b.t - a.t) / 1000,
    treeCpuS: b.tree - a.tree,
    callersCpuS: b.callers - a.callers,
  };
}

/**
 * The server's jobs for `rooms`: assigned (its "assigned job to worker" lines name the room),
 * and of those the ones it saw end ("job ended" names the job), by status.
 */
function jobs(
  room: RealRoom,
  rooms: Set<string>,
): { assigned: number; ended: number; statuses: Record<string, number> } {
  const ids = new Set(
    room.server.logs.filter((l) =>
      l.msg === "assigned job to worker" && typeof l.room === "string" && rooms.has(l.room)
    ).map((l) => String(l.jobID)),
  );
  const ended = room.server.logs.filter((l) => l.msg === "job ended" && ids.has(String(l.jobID)));
  const statuses: Record<string, number> = {};
  for (const l of ended) {
    const key = `${l.status ?? "?"}${l.error ? ` (${l.error})` : ""}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return { assigned: ids.size, ended: ended.length, statuses };
}

async function roomsLeft(room: RealRoom, rooms: Set<string>): Promise<number> {
  return (await room.server.roomNames()).filter((r) => rooms.has(r)).length;
}

/** Runs one level; never throws (a level that could not run says why in `error`). */
export async function runLevel(
  room: RealRoom,
  spec: RuntimeSpec,
  n: number,
  peers: Peers,
  opts: LevelOptions,
): Promise<LevelSamples> {
  const began = performance.now();
  const none: TreeMemory = { rssKiB: NaN, pssKiB: NaN, processes: 0 };
  const empty: CpuWindow = { seconds: NaN, treeCpuS: NaN, callersCpuS: NaN };
  const samples: LevelSamples = {
    runtime: spec.name,
    n,
    load: { start: loadavg(), end: [] },
    idle: none,
    peak: none,
    talk: empty,
    whole: empty,
    calls: [],
    callerProcesses: Math.ceil(n / opts.callersPerProcess),
    roomsLeft: 0,
    jobsAssigned: 0,
    jobsEnded: 0,
  };
  let agent: RoomAgent | undefined;
  const phones: CallerProcess[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    agent = await RoomAgent.start(room, spec.agent, peers, {
      logLevel: "info",
      maxJobs: MAX_JOBS,
      env: spec.env,
    });
    const root = agent.pid;
    samples.idle = await settled(root);
    samples.peak = { ...samples.idle };
    for (let i = 0; i < samples.callerProcesses; i++) {
      phones.push(await CallerProcess.start(CALLER_VOICE));
    }
    const callerPids = phones.map((p) => p.pid);
    const readMemory = () => {
      const now = treeNow(root);
      samples.peak = {
        rssKiB: Math.max(samples.peak.rssKiB, now.rssKiB),
        pssKiB: Math.max(samples.peak.pssKiB, now.pssKiB),
        processes: Math.max(samples.peak.processes, now.processes),
      };
    };
    sampler = setInterval(readMemory, MEMORY_EVERY_MS);
    const wholeStart = mark(root, callerPids);

    // The talking stretch starts once every call heard its hello answered (or gave up).
    let left = n;
    const everyoneIn = Promise.withResolvers<void>();
    const talkUntil = everyoneIn.promise.then(() => performance.now() + opts.talkSeconds * 1000);
    const talkWindow = everyoneIn.promise.then(async () => {
      const start = mark(root, callerPids);
      await sleep(opts.talkSeconds * 1000);
      return windowOf(start, mark(root, callerPids));
    });
    const stretch = {
      arrive: () => {
        if (--left === 0) everyoneIn.resolve();
      },
      talkUntil,
    };
    const rooms = Array.from(
      { length: n },
      (_, i) => room.freshRoom(`density-${spec.name}-${n}-${i}`),
    );
    const roomSet = new Set(rooms);
    const calls: Promise<CallRecord>[] = rooms.map(async (name, i) => {
      if (opts.staggerMs > 0) await sleep(i * opts.staggerMs);
      return await runCall(phones[i % phones.length], room.server, name, stretch, opts.silenceMs);
    });
    samples.calls = await Promise.all(calls);
    samples.talk = await talkWindow;
    clearInterval(sampler);
    readMemory();
    // The jobs' end (their CPU then is in the tree's reaped children), bounded: the recipe's
    // never come, so it gets a short look.
    const deadline = performance.now() + (spec.endsCalls ? 30_000 : 3_000);
    let j = jobs(room, roomSet);
    while (j.ended < j.assigned && performance.now() < deadline) {
      await sleep(200);
      j = jobs(room, roomSet);
    }
    samples.whole = windowOf(wholeStart, mark(root, callerPids));
    samples.jobsAssigned = j.assigned;
    samples.jobsEnded = j.ended;
    samples.jobStatuses = j.statuses;
    const late = agent.lines().filter((l) =>
      typeof l.json.room === "string" && roomSet.has(l.json.room) &&
      /slower than realtime/.test(l.msg)
    );
    samples.vadLate = {
      warnings: late.length,
      maxDelayMs: Math.max(0, ...late.map((l) => Number(l.json.delay)).filter(Number.isFinite)),
    };
    // The agent deletes its room before the caller hears it gone; a short bounded look.
    const roomsDeadline = performance.now() + (spec.endsCalls ? 5_000 : 0);
    samples.roomsLeft = await roomsLeft(room, roomSet);
    while (samples.roomsLeft > 0 && performance.now() < roomsDeadline) {
      await sleep(250);
      samples.roomsLeft = await roomsLeft(room, roomSet);
    }
  } catch (error) {
    samples.error = firstSentence(error);
  } finally {
    clearInterval(sampler);
    await Promise.all(phones.map((p) => p.stop()));
    await agent?.kill();
    samples.load.end = loadavg();
    samples.wallSeconds = (performance.now() - began) / 1000;
  }
  return samples;
}
