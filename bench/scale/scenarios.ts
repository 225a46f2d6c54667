/**
 * The five scale scenarios of the benchmark (`deno task bench --only scale`), each on the real
 * livekit-server with real workers and real callers, inside the test sandbox. Each returns what
 * it measured; nothing here passes or fails on a timing. The short form of each is a test
 * (`worker/room_fleet_test.ts`, `worker/room_cluster_test.ts`, `keeper/room_recovery_test.ts`).
 *
 * @module
 */
import { RESUME_TEXT } from "../../core/resume.ts";
import { type Caller, epochMs } from "../../testing/real_room/caller/mod.ts";
import { currentAgent, replacementReady, workerOf } from "../../testing/real_room/fleet.ts";
import { goodbyeHeard, heardInFull, sayHeard } from "../../testing/real_room/room_checks.ts";
import { BYE, QUESTION, RealRoom } from "../../testing/real_room/real_room.ts";
import type { WorkerProcess } from "../../testing/real_room/worker_process.ts";
import { type CallRecord, runCall, servedBy, short } from "./calls.ts";

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts `n` calls `intervalMs` apart (each runs to its end) and waits for all of them. */
async function arrivals(
  n: number,
  intervalMs: number,
  call: (i: number) => Promise<CallRecord>,
  at?: (i: number) => Promise<void> | void,
): Promise<CallRecord[]> {
  const running: Promise<CallRecord>[] = [];
  for (let i = 0; i < n; i++) {
    await at?.(i);
    running.push(call(i));
    if (i < n - 1) await pause(intervalMs);
  }
  return await Promise.all(running);
}

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

// ------------------------------------------------------------------ 1. spread

/** Scenario 1: calls arriving over time at two workers. */
export interface SpreadResult {
  calls: CallRecord[];
  /** Calls per worker (`w0`, `w1`; `none` for a call no worker served). */
  perWorker: Record<string, number>;
}

/** Two workers (production defaults, capacity in calls: `--max-jobs 8`), `n` calls. */
export async function spread(n: number, intervalMs: number): Promise<SpreadResult> {
  await using room = await RealRoom.start();
  const workers = [await room.startWorker(), await room.startWorker()];
  const calls = await arrivals(n, intervalMs, () => runCall(room, () => workers));
  return {
    calls,
    perWorker: countBy(calls, (c) => c.worker === undefined ? "none" : `w${c.worker}`),
  };
}

// ------------------------------------------------------------------ 2. rolling deploy

/** Scenario 2: a rolling deploy while calls arrive. */
export interface DeployResult {
  calls: CallRecord[];
  /** Call index at which worker A got SIGTERM (before that call started). */
  signalledBefore: number;
  /** SIGTERM -> the new worker A' registered. */
  replacementRegisteredMs: number;
  /** Calls that started after the SIGTERM and went to A anyway. */
  callsToOldAfterSignal: number;
  /** A's exit status, and how long after its last call's end it exited. */
  oldExit: { code: number; afterLastCallMs?: number };
  /** Caller joined -> agent joined: median before the SIGTERM, max from it on. */
  agentMsBefore: number;
  agentMsDuringMax: number;
  /** Calls (from the SIGTERM on) that got no agent. */
  unanswered: number;
}

/** Workers A and B; `n` calls `intervalMs` apart; A gets SIGTERM before call `at`, A' starts. */
export async function rollingDeploy(
  n: number,
  intervalMs: number,
  at: number,
): Promise<DeployResult> {
  await using room = await RealRoom.start();
  const args = ["start", "--drain-timeout", "120"];
  const workers: WorkerProcess[] = [await room.startWorker(args), await room.startWorker(args)];
  let signalledAt = 0;
  let registeredAt = 0;
  let oldExitedAt = 0;
  let fresh: Promise<WorkerProcess> | undefined;
  const calls = await arrivals(n, intervalMs, () => runCall(room, () => workers), (i) => {
    if (i !== at) return;
    signalledAt = epochMs();
    workers[0].signal("SIGTERM");
    workers[0].exited.then(() => oldExitedAt = epochMs());
    // The orchestrator starts the new pod as the old one drains.
    fresh = room.startWorker(args).then((w) => {
      registeredAt = epochMs();
      workers.push(w);
      return w;
    });
  });
  await fresh;
  const old = workers[0];
  const status = await old.waitForExit(60_000).catch(() => undefined);
  // When A's last call ended: its callers' disconnects.
  const lastCallEnd = Math.max(
    ...calls.filter((c) => c.worker === 0).map((c) => c.joinedAt + (c.endMs ?? 0)),
  );
  const before = calls.slice(0, at).map((c) => c.agentMs ?? NaN).filter(Number.isFinite)
    .sort((a, b) => a - b);
  const during = calls.slice(at);
  return {
    calls,
    signalledBefore: at,
    replacementRegisteredMs: Math.round(registeredAt - signalledAt),
    callsToOldAfterSignal: during.filter((c) => c.worker === 0).length,
    oldExit: {
      code: status?.code ?? -1,
      afterLastCallMs: status ? Math.round(oldExitedAt - lastCallEnd) : undefined,
    },
    agentMsBefore: before[Math.floor(before.length / 2)] ?? NaN,
    agentMsDuringMax: Math.max(...during.map((c) => c.agentMs ?? Infinity)),
    unanswered: during.filter((c) => c.agentMs === undefined).length,
  };
}

// ------------------------------------------------------------------ 3. crash

/** One crash of the worker serving a call. */
export interface CrashRecord {
  /** Crash -> the server reported the dead agent gone (as the caller saw it leave). */
  goneMs?: number;
  /** Crash -> the replacement agent joined. */
  replacementJoinedMs?: number;
  /** Crash -> the caller heard the replacement start speaking (it says it lost the thread). */
  resumeHeardMs?: number;
  /** That line's first sentence was heard in full (see `CallRecord.helloHeardInFull`). */
  resumeHeardInFull: boolean;
  /** Crash -> the caller heard the start of the answer to its next question. */
  answerHeardMs?: number;
  goodbyeHeard: boolean;
  reason?: string;
  /** The replacement ran on a surviving worker. */
  onSurvivor: boolean;
  error?: string;
}

/** Scenario 3: `reps` crashes (SIGKILL to a call's worker tree) with two workers and the keeper. */
export async function crashes(reps: number): Promise<CrashRecord[]> {
  await using room = await RealRoom.start({ keeper: [] });
  const workers = [await room.startWorker(), await room.startWorker()];
  const out: CrashRecord[] = [];
  const resumeFirst = RESUME_TEXT.slice(0, RESUME_TEXT.indexOf(".") + 1);
  for (let rep = 0; rep < reps; rep++) {
    const record: CrashRecord = {
      goodbyeHeard: false,
      onSurvivor: false,
      resumeHeardInFull: false,
    };
    let caller: Caller | undefined;
    try {
      caller = await room.call();
      await sayHeard(room, caller, "Hello there!");
      await caller.heardAfter(epochMs() - 5_000, 20_000, "the reply");
      const lost = currentAgent(caller)!;
      const dead = await workerOf(workers, caller.room);
      const survivors = workers.filter((w) => w !== dead);
      const crashedAt = epochMs();
      dead.crash();
      const gone = await caller.waitFor("participant_left", 40_000, (e) => e.identity === lost);
      record.goneMs = Math.round(gone.at - crashedAt);
      const joined = await replacementReady(caller, lost, 30_000);
      record.replacementJoinedMs = Math.round(joined.at - crashedAt);
      const speaks = await caller.waitFor("heard_start", 20_000, (e) => e.at >= joined.at);
      record.resumeHeardMs = Math.round(speaks.at - crashedAt);
      record.resumeHeardInFull = await heardInFull(caller, resumeFirst, joined.at)
        .then(() => true, () => false);
      const asked = await sayHeard(room, caller, QUESTION);
      const answer = await caller.waitFor("heard_start", 20_000, (e) => e.at >= asked.endAt);
      record.answerHeardMs = Math.round(answer.at - crashedAt);
      record.onSurvivor = servedBy(survivors, caller.room) !== undefined;
      const bye = await sayHeard(room, caller, BYE);
      await goodbyeHeard(room, caller, bye.endAt);
      record.goodbyeHeard = true;
      record.reason = (await caller.disconnected(30_000)).reason;
      // The orchestrator replaces the crashed worker before the next round.
      workers.splice(workers.indexOf(dead), 1, await room.startWorker());
    } catch (error) {
      record.error = short(error);
      await caller?.hangup().catch(() => {});
    }
    out.push(record);
  }
  return out;
}

// ------------------------------------------------------------------ 4. node loss

/** What one call saw when a node of the cluster stopped. */
export interface NodeLossCall {
  room: string;
  /** `stopped` when the room was hosted on the node that stopped, else `surviving`. */
  hostedOn: "stopped" | "surviving" | "unknown";
  /** What the caller saw after the stop, ms after it: agents leaving and joining, disconnect. */
  timeline: string[];
  /** After the dust settled: did a bye still end the call with the goodbye heard? */
  goodbyeHeardAfter: boolean;
  reason?: string;
  error?: string;
}

/** Scenario 4: two nodes on one Redis, the keeper, workers on node 1 (through a proxy), callers through node 2; node 1 stops. */
export interface NodeLossResult {
  before: CallRecord;
  calls: NodeLossCall[];
  /** Node 1 stopped -> each worker registered again (through the proxy, on node 2). */
  reregisteredMs: number[];
  /** A new call after the loss. */
  after: CallRecord;
}

/** The node hosting `room` (from the cluster's Redis), as `stopped`/`surviving`. */
async function hostOf(room: RealRoom, name: string, stoppedId: string) {
  const id = await room.redis!.command("HGET", "room_node_map", name);
  if (typeof id !== "string") return "unknown" as const;
  return id === stoppedId ? "stopped" as const : "surviving" as const;
}

/** Node ID of a node, from its start-up line. */
function nodeId(node: RealRoom["server"]): string {
  const line = node.logs.find((l) => typeof l.nodeID === "string");
  return (line?.nodeID as string) ?? "";
}

/** Scenario 4 with `inFlight` calls in progress when node 1 stops (SIGKILL). */
export async function nodeLoss(inFlight: number, settleMs: number): Promise<NodeLossResult> {
  await using room = await RealRoom.start({ cluster: 2, keeper: [] });
  const [first, second] = room.nodes;
  // Workers and keeper reach the cluster through its address (room.proxy, node 1 first).
  const workers = [await room.startWorker(), await room.startWorker()];
  const before = await runCall(room, () => workers, { via: second, prefix: "before" });
  // Calls in progress: each answered once, then held open until the node stops and settles.
  const callers: Caller[] = [];
  for (let i = 0; i < inFlight; i++) {
    const c = await room.call(room.freshRoom("inflight"), 30_000, second);
    await sayHeard(room, c, "Hello there!");
    await c.heardAfter(epochMs() - 5_000, 20_000, "the reply");
    callers.push(c);
  }
  const stoppedId = nodeId(first);
  const hosts = await Promise.all(callers.map((c) => hostOf(room, c.room, stoppedId)));
  const marks = workers.map((w) => w.lines.length);
  const stoppedAt = epochMs();
  await first.kill();
  const reregisteredMs = await Promise.all(workers.map(async (w, i) => {
    try {
      await w.waitForLine(/registered worker/, 60_000, marks[i]);
      return Math.round(epochMs() - stoppedAt);
    } catch {
      return NaN;
    }
  }));
  await pause(settleMs);
  const calls: NodeLossCall[] = [];
  for (const [i, c] of callers.entries()) {
    const timeline = c.events().filter((e) => "at" in e && e.at >= stoppedAt).flatMap((e) => {
      const t = Math.round((e as { at: number }).at - stoppedAt);
      switch (e.ev) {
        case "participant_left":
          return [`${t} ms: agent ${e.identity.slice(-6)} left`];
        case "participant_joined":
          return [
            `${t} ms: ${e.kind === "AGENT" ? "agent" : e.kind} ${e.identity.slice(-6)} joined`,
          ];
        case "disconnected":
          return [`${t} ms: caller disconnected (${e.reason})`];
        case "data":
          return [`${t} ms: notice "${e.text}"`];
        default:
          return [];
      }
    });
    const record: NodeLossCall = {
      room: c.room,
      hostedOn: hosts[i],
      timeline,
      goodbyeHeardAfter: false,
    };
    if (!c.events().some((e) => e.ev === "disconnected")) {
      try {
        const bye = await sayHeard(room, c, BYE);
        await goodbyeHeard(room, c, bye.endAt);
        record.goodbyeHeardAfter = true;
        record.reason = (await c.disconnected(30_000)).reason;
      } catch (error) {
        record.error = short(error);
        await c.hangup().catch(() => {});
      }
    } else {
      const gone = c.events().find((e) => e.ev === "disconnected");
      record.reason = gone?.ev === "disconnected" ? gone.reason : undefined;
    }
    calls.push(record);
  }
  const after = await runCall(room, () => workers, { via: second, prefix: "after" });
  return { before, calls, reregisteredMs, after };
}

// ------------------------------------------------------------------ 5. full fleet

/** Scenario 5: a burst of calls larger than the fleet. */
export interface FullFleetResult {
  keeper: boolean;
  workers: number;
  maxJobs: number;
  calls: CallRecord[];
  /** Calls each worker took (all held at once). */
  perWorker: Record<string, number>;
  /** Calls that got no agent, and how they ended for the caller. */
  unanswered: { waitedMs: number; told: boolean; reason?: string }[];
}

/**
 * `workers` workers at `--max-jobs maxJobs`; `n` callers arrive `intervalMs` apart and every call
 * is held until all have arrived (so the fleet is full); without or with the keeper.
 */
export async function fullFleet(
  workerCount: number,
  maxJobs: number,
  n: number,
  intervalMs: number,
  keeper: boolean,
): Promise<FullFleetResult> {
  const agentWaitMs = 30_000;
  await using room = await RealRoom.start(
    keeper ? { keeper: ["--answer-timeout", "5", "--join-timeout", "5"] } : {},
  );
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < workerCount; i++) {
    workers.push(
      await room.startWorker(["start"], {}, {
        defaults: ["--port", "0", "--num-idle-processes", "1", "--max-jobs", String(maxJobs)],
      }),
    );
  }
  // Every answered call is held until the last caller has had its chance at an agent; then the
  // byes follow 4 s apart (all at once, the goodbyes' checks alone would starve a small machine).
  const heldUntil = epochMs() + (n - 1) * intervalMs + agentWaitMs + 2_000;
  const hold = (i: number) => () => pause(Math.max(0, heldUntil + i * 4_000 - epochMs()));
  const calls = await arrivals(
    n,
    intervalMs,
    (i) => runCall(room, () => workers, { middle: hold(i), agentWaitMs }),
  );
  const unanswered = calls.filter((c) => c.agentMs === undefined).map((c) => ({
    waitedMs: c.endMs ?? NaN,
    told: c.notice !== undefined,
    reason: c.reason,
  }));
  return {
    keeper,
    workers: workerCount,
    maxJobs,
    calls,
    perWorker: countBy(calls, (c) => c.worker === undefined ? "none" : `w${c.worker}`),
    unanswered,
  };
}
