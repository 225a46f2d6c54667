/**
 * Performance in a real room, the same way for each runtime: one worker (production defaults but
 * capacity counted in calls on both sides, see `RoomAgentOptions.maxJobs`, so a busy machine does
 * not turn the run's calls away; `info` logs), idle until its memory settles, then N concurrent
 * calls, each dispatched to a fresh room (retried, bounded, when the worker reports itself full
 * all the same). Each call says hello and,
 * once every call got its reply, a question, then bye; the caller records everything.
 *
 * Measured per call: reply latency heard by the caller (end of its speech to the first agent
 * audio after it), bye to the goodbye heard (end of bye to the start of "Goodbye!" in the
 * caller's recording), whether the goodbye was heard in full, and the goodbye's end to the
 * caller's disconnect (bounded: the recipe never disconnects). Per run: the worker tree's RSS
 * idle and at its peak during the calls, and its PSS idle and with every call in progress.
 *
 * @module
 */
import { GOODBYE } from "../../agent.ts";
import { type Caller, epochMs } from "../../testing/real_room/caller/mod.ts";
import { inFull } from "../../testing/real_room/caller/heard.ts";
import { BYE, HELLO, QUESTION, type RealRoom } from "../../testing/real_room/real_room.ts";
import { loadavg, sleep } from "../proc.ts";
import {
  type AgentRuntime,
  callAgent,
  type Peers,
  RoomAgent,
  type RoomAgentOptions,
} from "./room_agent.ts";
import { BYE_ATTEMPTS, firstSentence, heardMatch, sayInCall } from "./room_call.ts";

/** One call of a performance run. */
export interface PerfCall {
  /** Fresh rooms it took until an agent came (0: none came). */
  dispatchTries: number;
  /** End of hello, then of the question → first agent audio heard, ms. */
  replyLatencyMs: number[];
  /** The caller got to say bye (the call was not ended early). */
  byeSaid?: boolean;
  /** Times it said bye until the goodbye came (a misheard bye is said again). */
  byeTries?: number;
  /** Lengths of the stretches of agent audio heard after the first bye, ms (for the why). */
  heardAfterByeMs?: number[];
  /** End of bye → start of "Goodbye!" in the caller's recording, ms. */
  byeToGoodbyeMs?: number;
  goodbyeInFull: boolean;
  /** Share of the goodbye's syllables heard, when it was found. */
  goodbyeCoverage?: number;
  /** Share of the goodbye's last 50 ms of voice heard where they belong, when it was found. */
  goodbyeEndHeard?: number;
  /** End of the goodbye as heard → the caller's disconnect; absent when none came in time. */
  goodbyeEndToDisconnectMs?: number;
  disconnectReason?: string;
  error?: string;
}

/** Memory of the worker tree. */
export interface TreeMemory {
  rssKiB: number;
  pssKiB: number;
  processes: number;
}

/** One performance run of one runtime. */
export interface RoomPerfRun {
  runtime: AgentRuntime;
  /** Load average (1 min) at the start and the end. */
  load: [number, number];
  /** Launch → registered with the real server, ms. */
  registeredMs: number;
  /** The idle worker, settled. */
  idle: TreeMemory;
  /** Peak tree RSS during the calls, KiB. */
  peakRssKiB: number;
  /** The tree once every call had its first reply (all N in progress). */
  inCalls?: TreeMemory;
  /** Concurrent calls. */
  n: number;
  calls: PerfCall[];
  /** How long each caller waited for its disconnect after the goodbye, ms. */
  silenceBoundMs: number;
  error?: string;
}

/** Options of {@link roomPerfRun}. */
export interface PerfOptions {
  /** Concurrent calls (default 2). */
  calls?: number;
  /** Bound on the wait for the disconnect after the goodbye (default 20 s). */
  silenceBoundMs?: number;
  /** Capacity in calls on both sides (default 8; 0 = production CPU-based capacity). */
  maxJobs?: number;
  agent?: RoomAgentOptions;
}

/** Waits until the tree's RSS and process count hold still (4 readings, 500 ms apart). */
async function settled(agent: RoomAgent, timeoutMs = 45_000): Promise<TreeMemory> {
  const deadline = performance.now() + timeoutMs;
  const readings: { rssKiB: number; processes: number }[] = [];
  await sleep(2_000);
  while (performance.now() < deadline) {
    const tree = agent.treeMemory();
    readings.push(tree);
    const last = readings.slice(-4);
    if (
      last.length === 4 && last.every((r) => r.processes === last[0].processes) &&
      Math.max(...last.map((r) => r.rssKiB)) <= 1.01 * Math.min(...last.map((r) => r.rssKiB))
    ) {
      return tree;
    }
    await sleep(500);
  }
  return agent.treeMemory();
}

/** A barrier: resolves once `n` parties arrived. */
function barrier(n: number): { arrive: () => void; passed: Promise<void> } {
  let left = n;
  const { promise, resolve } = Promise.withResolvers<void>();
  if (n <= 0) resolve();
  return {
    arrive: () => {
      if (--left === 0) resolve();
    },
    passed: promise,
  };
}

/** Bound on the wait for a reply (a call whose reply takes longer counts as failed). */
export const REPLY_BOUND_MS = 30_000;

async function reply(caller: Caller, text: string): Promise<number> {
  const said = await sayInCall(caller, text);
  try {
    const first = await caller.waitFor("heard_start", REPLY_BOUND_MS, (e) => e.at >= said.endAt);
    await caller.waitFor("heard", REPLY_BOUND_MS, (e) => e.startAt >= said.endAt);
    return first.at - said.endAt;
  } catch {
    throw new Error(`no reply to "${text}" heard within ${REPLY_BOUND_MS / 1000} s`);
  }
}

/** Runs one performance run of `runtime` in `room`; ends everything it started by PID. */
export async function roomPerfRun(
  room: RealRoom,
  runtime: AgentRuntime,
  peers: Peers,
  opts: PerfOptions = {},
): Promise<RoomPerfRun> {
  const n = opts.calls ?? 2;
  const silenceBoundMs = opts.silenceBoundMs ?? 20_000;
  const run: RoomPerfRun = {
    runtime,
    load: [loadavg()[0], NaN],
    registeredMs: NaN,
    idle: { rssKiB: NaN, pssKiB: NaN, processes: 0 },
    peakRssKiB: NaN,
    n,
    calls: [],
    silenceBoundMs,
  };
  let agent: RoomAgent | undefined;
  const callers: Caller[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    agent = await RoomAgent.start(room, runtime, peers, {
      logLevel: "info",
      maxJobs: opts.maxJobs ?? 8,
      ...opts.agent,
    });
    run.registeredMs = agent.registeredMs;
    run.idle = await settled(agent);
    run.peakRssKiB = run.idle.rssKiB;
    const a = agent;
    sampler = setInterval(() => {
      run.peakRssKiB = Math.max(run.peakRssKiB, a.treeMemory().rssKiB);
    }, 250);
    const replied = barrier(n);
    const conversations: Promise<PerfCall>[] = [];
    for (let i = 0; i < n; i++) {
      const call: PerfCall = { dispatchTries: 0, replyLatencyMs: [], goodbyeInFull: false };
      let caller: Caller;
      try {
        const d = await callAgent(room, a, "perf");
        caller = d.caller;
        callers.push(caller);
        call.dispatchTries = d.tries;
      } catch (error) {
        call.error = firstSentence(error);
        replied.arrive();
        conversations.push(Promise.resolve(call));
        continue;
      }
      conversations.push(converse(caller, call, replied, silenceBoundMs));
    }
    await replied.passed;
    run.inCalls = a.treeMemory();
    run.calls = await Promise.all(conversations);
  } catch (error) {
    run.error = firstSentence(error);
  } finally {
    clearInterval(sampler);
    for (const c of callers) {
      if (!c.events().some((e) => e.ev === "disconnected")) await c.hangup().catch(() => {});
    }
    await agent?.kill();
    run.load[1] = loadavg()[0];
  }
  return run;
}

async function converse(
  caller: Caller,
  call: PerfCall,
  replied: { arrive: () => void; passed: Promise<void> },
  silenceBoundMs: number,
): Promise<PerfCall> {
  let arrived = false;
  try {
    call.replyLatencyMs.push(await reply(caller, HELLO));
    replied.arrive();
    arrived = true;
    await replied.passed;
    call.replyLatencyMs.push(await reply(caller, QUESTION));
    // A bye the simulated STT mishears (a loaded machine stretches the caller's phrases) gets
    // another answer than the goodbye: then it is said again, at most BYE_ATTEMPTS times.
    let bye = await sayInCall(caller, BYE);
    const firstBye = bye;
    call.byeSaid = true;
    call.byeTries = 1;
    let match = await heardMatch(caller, GOODBYE, bye.endAt, 20_000);
    while (
      !match && call.byeTries < BYE_ATTEMPTS &&
      caller.heard().some((h) => h.startAt >= bye.endAt)
    ) {
      bye = await sayInCall(caller, BYE);
      call.byeTries++;
      match = await heardMatch(caller, GOODBYE, bye.endAt, 20_000);
    }
    call.heardAfterByeMs = caller.heard().filter((h) => h.startAt >= firstBye.endAt)
      .map((h) => Math.round(h.endAt - h.startAt));
    call.goodbyeInFull = inFull(match);
    call.goodbyeCoverage = match?.coverage;
    call.goodbyeEndHeard = match?.endHeard;
    if (match) call.byeToGoodbyeMs = match.startAt - bye.endAt;
    const from = match?.endAt ?? bye.endAt;
    try {
      const gone = await caller.disconnected(Math.max(0, from + silenceBoundMs - epochMs()));
      call.disconnectReason = gone.reason;
      if (match) call.goodbyeEndToDisconnectMs = gone.at - match.endAt;
    } catch {
      // not disconnected within the bound: recorded by the absence of the figure
    }
  } catch (error) {
    call.error = firstSentence(error);
  } finally {
    if (!arrived) replied.arrive();
  }
  return call;
}
