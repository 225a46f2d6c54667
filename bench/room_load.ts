/**
 * Load in a real room: N concurrent callers against one `main.ts start` worker, on the real
 * livekit-server, each caller a real rtc-node participant; the Inference models are the loopback
 * simulation with fixed latencies. Runs inside the test sandbox (`bench/main.ts` starts it there).
 *
 * Each call: join a fresh room, wait for the agent, three turns (hello, a question twice), then
 * bye; the caller records everything. Per level N (1, 2, 4, 8, then up while it holds):
 * - reply latency heard by the caller: end of its speech to the first agent audio after it;
 * - the share of calls whose caller heard "Goodbye!" in full (compared with what the simulation
 *   synthesized) and was then disconnected with ROOM_DELETED;
 * - RSS per concurrent call: the worker tree's peak RSS during the level minus its idle RSS, / N;
 * - CPU per call: the worker tree's CPU seconds over the level (reaped job processes included),
 *   / N, and that over the call's duration (cores per call).
 * A level "holds" when every call completed, every goodbye was heard in full and the p95 reply
 * latency is at most 1.5x that of one call. After the levels, every room must be gone and every
 * job the server assigned must have ended.
 *
 * `deno run -A bench/room_load.ts [--levels 1,2,4,8,12,16] [--turn-detection vad] [--out F]`
 *
 * @module
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { GOODBYE } from "../agent.ts";
import { readWavFile } from "../console/wav.ts";
import { type Caller, CallerProcess } from "../testing/real_room/caller/mod.ts";
import { findHeard, inFull } from "../testing/real_room/caller/heard.ts";
import {
  BYE,
  CALLER_VOICE,
  HELLO,
  MODEL_LATENCY,
  QUESTION,
  RealRoom,
  realRoomProblem,
} from "../testing/real_room/real_room.ts";
import { runInSandbox } from "../testing/real_room/sandbox.ts";
import { fromFileUrl } from "../testing/paths.ts";
import { descendants, treeCpuSeconds, treeMemory } from "./proc.ts";
import { median } from "./stats.ts";
import { lkAgentLoadTest, type LkLoadTest } from "./lk_perf.ts";
import { roomLoadTable } from "./room_load_table.ts";

/** Callers hosted by one caller process (each process is one Deno runtime with rtc-node). */
const CALLERS_PER_PROCESS = 4;
/** The criterion a level must meet to "hold". */
export const P95_FACTOR = 1.5;

/** One call's measurements. */
export interface CallResult {
  ok: boolean;
  error?: string;
  /** Caller joined -> agent audio track subscribed. */
  agentJoinMs?: number;
  /** End of the caller's speech -> first agent audio, per turn (hello, question, question). */
  replyLatencyMs: number[];
  /** End of "bye" -> first agent audio after it. */
  byeToFirstAudioMs?: number;
  /** Was "Goodbye!" heard in full (match over the caller's recording)? */
  goodbyeHeardInFull: boolean;
  /** End of the goodbye as heard -> the caller's disconnect. */
  goodbyeEndToDisconnectMs?: number;
  /** The caller's disconnect reason. */
  disconnectReason?: string;
  /** Join -> disconnect. */
  durationMs?: number;
  /** Where the caller's recording was kept, when the goodbye was not heard in full. */
  recording?: string;
  /** The goodbye match, when there was one. */
  goodbyeMatch?: { correlation: number; coverage: number; pitchOff: number; endHeard: number };
}

/** One level's figures. */
export interface LevelResult {
  n: number;
  calls: CallResult[];
  replyP50Ms: number;
  replyP95Ms: number;
  goodbyeShare: number;
  completedShare: number;
  idleTreeRssMiB: number;
  peakTreeRssMiB: number;
  rssPerCallMiB: number;
  cpuSecondsPerCall: number;
  coresPerCall: number;
  /**
   * Utterances the simulated STT could not recognize in this level (empty final transcripts): a
   * caller starved of CPU garbles its phrase, the agent hears nothing to answer, and that call
   * fails waiting for a reply; the agent is not what failed then.
   */
  unrecognized: number;
  holds: boolean;
  why?: string;
}

/** The whole run. */
export interface RoomLoadResult {
  date: string;
  command: string;
  machine: { cpu: string; cores: number; memGiB: number };
  turnDetection: string;
  modelLatency: typeof MODEL_LATENCY;
  levels: LevelResult[];
  baselineP95Ms: number;
  maxHeldN: number;
  roomsLeft: string[];
  jobsAssigned: number;
  jobsEnded: number;
  /** LiveKit's own `lk perf agent-load-test` against the same worker, or why it did not run. */
  lk: LkLoadTest;
}

/** How long the rooms are given to close after the last level: the departure timeout + 10 s. */
const ROOMS_SETTLE_MS = 30_000;

/** The rooms still listed once none is left, or when `ms` has passed (polled every second). */
async function roomsSettled(room: RealRoom, ms: number): Promise<string[]> {
  const deadline = performance.now() + ms;
  let names = await room.server.roomNames();
  while (names.length > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    names = await room.server.roomNames();
  }
  return names;
}

function percentile(xs: number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function oneCall(room: RealRoom, phones: CallerProcess): Promise<CallResult> {
  const result: CallResult = { ok: false, replyLatencyMs: [], goodbyeHeardInFull: false };
  let caller: Caller | undefined;
  try {
    caller = await phones.join(room.server, room.freshRoom("load"), { timeoutMs: 60_000 });
    const joined = caller.events().find((e) => e.ev === "joined")!;
    await caller.waitForAgent(90_000);
    const sub = caller.events().find((e) => e.ev === "subscribed")!;
    result.agentJoinMs = sub.at - joined.at;
    for (const text of [HELLO, QUESTION, QUESTION]) {
      const said = await caller.say(text);
      const first = await caller.waitFor(
        "heard_start",
        60_000,
        (e) => e.at >= said.endAt,
        `a reply to "${text}"`,
      );
      result.replyLatencyMs.push(first.at - said.endAt);
      await caller.waitFor("heard", 60_000, (e) => e.startAt >= said.endAt, "the reply to end");
    }
    const bye = await caller.say(BYE);
    const first = await caller.waitFor(
      "heard_start",
      60_000,
      (e) => e.at >= bye.endAt,
      "the goodbye",
    );
    result.byeToFirstAudioMs = first.at - bye.endAt;
    const gone = await caller.disconnected(90_000);
    result.disconnectReason = gone.reason;
    result.durationMs = gone.at - joined.at;
    const path = await Deno.makeTempFile({ prefix: "room-load-", suffix: ".wav" });
    const saved = await caller.save(path);
    const wav = await readWavFile(path);
    const match = findHeard({ startAt: saved.startAt, samples: wav.samples }, GOODBYE, bye.endAt);
    result.goodbyeHeardInFull = inFull(match);
    if (match) {
      result.goodbyeEndToDisconnectMs = gone.at - match.endAt;
      const { correlation, coverage, pitchOff, endHeard } = match;
      result.goodbyeMatch = { correlation, coverage, pitchOff, endHeard };
    }
    // Kept for a look when the goodbye was not heard in full (what did the caller hear?).
    if (result.goodbyeHeardInFull) await Deno.remove(path);
    else result.recording = `${path} (bye said at +${Math.round(bye.endAt - saved.startAt)} ms)`;
    result.ok = gone.reason === "ROOM_DELETED";
    if (!result.ok) result.error = `disconnected with ${gone.reason}`;
  } catch (error) {
    result.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
    if (caller) await caller.hangup().catch(() => {});
  }
  return result;
}

async function runLevel(room: RealRoom, workerPid: number, n: number): Promise<LevelResult> {
  const rss = () => treeMemory(workerPid).reduce((s, m) => s + m.rssKiB, 0) / 1024;
  const idleTreeRssMiB = rss();
  let peakTreeRssMiB = idleTreeRssMiB;
  const sampler = setInterval(() => {
    peakTreeRssMiB = Math.max(peakTreeRssMiB, rss());
  }, 250);
  const cpuBefore = treeCpuSeconds(workerPid);
  const logFrom = room.gateway.log.length;
  const processes = await Promise.all(
    Array.from(
      { length: Math.ceil(n / CALLERS_PER_PROCESS) },
      () => CallerProcess.start(CALLER_VOICE),
    ),
  );
  let calls: CallResult[];
  try {
    calls = await Promise.all(
      Array.from({ length: n }, (_, i) => oneCall(room, processes[i % processes.length])),
    );
  } finally {
    clearInterval(sampler);
    await Promise.all(processes.map((p) => p.stop()));
  }
  // Let the jobs of this level end (their CPU then counts in the worker's reaped children).
  const deadline = performance.now() + 30_000;
  while (
    performance.now() < deadline &&
    room.server.logs.filter((l) => l.msg === "job ended").length < jobsAssigned(room)
  ) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const cpu = treeCpuSeconds(workerPid) - cpuBefore;
  const latencies = calls.flatMap((c) => c.replyLatencyMs);
  const durations = calls.map((c) => c.durationMs ?? NaN);
  const level: LevelResult = {
    n,
    calls,
    replyP50Ms: percentile(latencies, 50),
    replyP95Ms: percentile(latencies, 95),
    goodbyeShare: calls.filter((c) => c.goodbyeHeardInFull).length / n,
    completedShare: calls.filter((c) => c.ok).length / n,
    idleTreeRssMiB,
    peakTreeRssMiB,
    rssPerCallMiB: (peakTreeRssMiB - idleTreeRssMiB) / n,
    cpuSecondsPerCall: cpu / n,
    coresPerCall: cpu / n / (median(durations) / 1000),
    unrecognized:
      room.gateway.log.slice(logFrom).filter((e) => e.kind === "stt_final" && e.text.trim() === "")
        .length,
    holds: false,
  };
  return level;
}

function jobsAssigned(room: RealRoom): number {
  return room.server.logs.filter((l) => l.msg === "assigned job to worker").length;
}

function jobsEnded(room: RealRoom): number {
  return room.server.logs.filter((l) => l.msg === "job ended").length;
}

/** Runs the levels and returns the result (no printing besides progress on stderr). */
export async function runRoomLoad(
  levels: number[],
  turnDetection: string,
  command: string,
): Promise<RoomLoadResult> {
  const problem = realRoomProblem();
  if (problem) throw new Error(`the room load benchmark cannot run: ${problem}`);
  await using room = await RealRoom.start();
  const worker = await room.startWorker(["start"], { TURN_DETECTION: turnDetection }, {
    // Production defaults (idle processes, JSON logs), with capacity counted in calls: the
    // benchmark asks how many calls the machine holds, not when CPU load says "full".
    defaults: ["--port", "0", "--max-jobs", "64"],
  });
  // Idle processes prewarm after registration; measure from a settled worker.
  await new Promise((r) => setTimeout(r, 3_000));
  const results: LevelResult[] = [];
  let baseline = NaN;
  for (const n of levels) {
    console.error(`room load: ${n} concurrent call(s)...`);
    const level = await runLevel(room, worker.pid, n);
    if (n === levels[0]) baseline = level.replyP95Ms;
    const unheard = level.unrecognized > 0
      ? ` (the STT could not recognize ${level.unrecognized} utterance(s) of starved callers)`
      : "";
    const why = level.completedShare < 1
      ? `${Math.round((1 - level.completedShare) * n)} call(s) failed${unheard}: ${
        level.calls.find((c) => !c.ok)?.error
      }`
      : level.goodbyeShare < 1
      ? "a goodbye was not heard in full"
      : level.replyP95Ms > P95_FACTOR * baseline
      ? `p95 ${Math.round(level.replyP95Ms)} ms > ${P95_FACTOR} x ${Math.round(baseline)} ms`
      : undefined;
    level.holds = why === undefined;
    level.why = why;
    results.push(level);
    console.error(
      `  p50 ${Math.round(level.replyP50Ms)} ms, p95 ${Math.round(level.replyP95Ms)} ms, ` +
        `goodbye ${Math.round(level.goodbyeShare * 100)} %, ${
          level.rssPerCallMiB.toFixed(0)
        } MiB/call, ` +
        `${level.coresPerCall.toFixed(2)} cores/call${why ? `; does not hold: ${why}` : ""}`,
    );
    if (!level.holds && n >= 8) break;
  }
  const maxHeldN = Math.max(0, ...results.filter((l) => l.holds).map((l) => l.n));
  const jobs = { assigned: jobsAssigned(room), ended: jobsEnded(room) };
  // A call that failed was hung up by its caller: the agent then leaves without deleting the
  // room (the caller hung up first), and the server closes the empty room after its departure
  // timeout. So rooms are counted once that had its chance, bounded.
  const roomsLeft = await roomsSettled(room, ROOMS_SETTLE_MS);
  console.error("room load: lk perf agent-load-test...");
  const lk = await lkAgentLoadTest(room, Math.max(2, maxHeldN));
  return {
    date: new Date().toISOString(),
    command,
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: availableParallelism(),
      memGiB: Math.round(totalmem() / 2 ** 30),
    },
    turnDetection,
    modelLatency: MODEL_LATENCY,
    levels: results,
    baselineP95Ms: baseline,
    maxHeldN,
    roomsLeft,
    jobsAssigned: jobs.assigned,
    jobsEnded: jobs.ended,
    lk,
  };
}

/**
 * Runs this module inside the test sandbox (the bench process itself stays outside, where the
 * Node peer's npm install can reach the registry) and returns its result.
 */
export async function roomLoadInSandbox(
  levels: number[],
  turnDetection = "vad",
): Promise<RoomLoadResult> {
  const out = await Deno.makeTempFile({ prefix: "room-load-", suffix: ".json" });
  try {
    const code = await runInSandbox([
      Deno.execPath(),
      "run",
      "-A",
      fromFileUrl(import.meta.url),
      "--levels",
      levels.join(","),
      "--turn-detection",
      turnDetection,
      "--out",
      out,
    ], { required: true });
    if (code !== 0) throw new Error(`the room load benchmark exited ${code}`);
    return JSON.parse(await Deno.readTextFile(out));
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      levels: { type: "string", default: "1,2,4,8,12,16,24" },
      "turn-detection": { type: "string", default: "vad" },
      out: { type: "string" },
    },
  });
  const levels = values.levels.split(",").map(Number).filter((n) => n > 0);
  const result = await runRoomLoad(
    levels,
    values["turn-detection"],
    `deno task bench --only room --levels ${levels.join(",")}`,
  );
  const json = JSON.stringify(result, null, 2) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, json);
  else console.log(json);
  console.error(roomLoadTable(result));
  console.error(
    `largest N holding p95 <= ${P95_FACTOR} x ${
      Math.round(result.baselineP95Ms)
    } ms: ${result.maxHeldN}; ` +
      `rooms left ${result.roomsLeft.length}; jobs assigned ${result.jobsAssigned}, ended ${result.jobsEnded}`,
  );
  // Descendants of this process (callers, worker) were ended by PID in the fixture.
  if (descendants(Deno.pid).length > 0) console.error("warning: processes left behind");
  Deno.exit(0);
}
