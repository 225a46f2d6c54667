/**
 * The side-by-side comparison's result and how it reads: the performance table (pairwise ratios
 * from interleaved runs), the behaviour table (`room_verdicts.ts`), where this project is ahead
 * of the recipe or behind it and why, and the README block. Pure functions over the raw runs,
 * so a saved result renders again (`--render`) without running anything.
 *
 * @module
 */
import type { ConsoleRun } from "../console_run.ts";
import { formatSummary, median, pairedRatio, summarize, type Summary } from "../stats.ts";
import type { WorkerRun } from "../worker_run.ts";
import type { MachineInfo } from "../proc.ts";
import type { PythonConsoleRun } from "./console_run.ts";
import type { AgentRuntime } from "./room_agent.ts";
import type { RoomPerfRun } from "./room_perf.ts";
import type { ScenarioRecord } from "./room_records.ts";
import { type BehaviourRow, behaviourRows, behaviourTable } from "./room_verdicts.ts";
import type { PythonSessionRun } from "./session_run.ts";
import type { PythonWorkerRun } from "./worker_run.ts";

/** Everything measured, as the runs recorded it. */
export interface ComparisonRaw {
  /** Idle workers against the worker-endpoint stand-in, run i of each runtime interleaved. */
  worker: { deno: WorkerRun[]; node: WorkerRun[]; python: PythonWorkerRun[] };
  /** Real-room performance runs, Deno and Python interleaved (pair i = run i of each). */
  room: RoomPerfRun[];
  /** Real-room behaviour scenarios. */
  behaviour: ScenarioRecord[];
  /** The recipe's exit flow through livekit-agents' test utility (no audio, no room). */
  session: PythonSessionRun[];
  /** The exit flow through the console protocol (optional part). */
  console: { deno: ConsoleRun[]; python: PythonConsoleRun[] };
}

/** One row of the performance table. */
export interface PerfRow {
  figure: string;
  unit: string;
  /** Where it was measured. */
  where: "stand-in" | "room";
  deno: Summary;
  node: Summary;
  python: Summary;
  /** Python/Deno, pair by pair (how many times the recipe's figure is this project's). */
  pythonRatio: Summary;
  /** Node/Deno, pair by pair. */
  nodeRatio: Summary;
  /** Cells that are words rather than a figure (e.g. "never, within 20 s"). */
  words?: Partial<Record<AgentRuntime, string>>;
  digits?: number;
  /** A share or a count: no ratio is shown. */
  noRatio?: boolean;
  /** Why the two differ: the mechanism, true whichever way the figures fall. */
  why?: string;
}

/** The whole result, as written to JSON. */
export interface ComparisonResult {
  date: string;
  command: string;
  machine: MachineInfo;
  versions: {
    deno: string;
    node?: string;
    python: string;
    pythonPackages: Record<string, string>;
    nodePackages?: Record<string, string>;
  };
  /** The simulation's fixed model latencies. */
  modelLatency: { llmFirstTokenMs: number; ttsFirstAudioMs: number };
  /** `TURN_DETECTION` of this project's agent in the room ("" = its default). */
  turnDetection: string;
  loadavg: { start: number[]; end: number[] };
  /** Interleaved runs per figure. */
  runs: number;
  /** Concurrent calls per real-room performance run. */
  calls: number;
  /** Runtimes of the behaviour table. */
  runtimes: AgentRuntime[];
  /** Parts that did not run, and why. */
  skipped: string[];
  raw: ComparisonRaw;
}

const MiB = (kib: number) => kib / 1024;

function sumRole<T extends { role: string; rssKiB: number }>(
  ps: T[],
  roles: string[],
  f: (p: T) => number = (p) => p.rssKiB,
): number {
  return ps.filter((p) => roles.includes(p.role)).reduce((s, p) => s + f(p), 0);
}

function eachOfRole<T extends { role: string }>(ps: T[], role: string, f: (p: T) => number) {
  const xs = ps.filter((p) => p.role === role);
  return xs.length ? xs.reduce((s, p) => s + f(p), 0) / xs.length : NaN;
}

function row(
  figure: string,
  unit: string,
  where: PerfRow["where"],
  d: number[],
  n: number[],
  p: number[],
  extra: Partial<PerfRow> = {},
): PerfRow {
  return {
    figure,
    unit,
    where,
    deno: summarize(d),
    node: summarize(n),
    python: summarize(p),
    pythonRatio: pairedRatio(p, d),
    nodeRatio: pairedRatio(n, d),
    ...extra,
  };
}

/** The real-room runs of one runtime, in order. */
function roomRuns(raw: ComparisonRaw, rt: AgentRuntime): RoomPerfRun[] {
  return raw.room.filter((r) => r.runtime === rt);
}

/** Per run: the median over its calls of `f` (NaN when no call has it). */
function perRun(runs: RoomPerfRun[], f: (c: RoomPerfRun["calls"][number]) => number[]) {
  return runs.map((r) => median(r.calls.flatMap(f)));
}

/** The performance table's rows. */
export function perfRows(raw: ComparisonRaw): PerfRow[] {
  const w = raw.worker;
  const rows: PerfRow[] = [];
  if (w.deno.length || w.python.length) {
    const total = (x: WorkerRun) => MiB(x.processes.reduce((s, p) => s + p.rssKiB, 0));
    const totalPss = (x: WorkerRun) => MiB(x.processes.reduce((s, p) => s + (p.pssKiB ?? 0), 0));
    rows.push(
      row(
        "cold start: `start` → registered, idle processes prewarmed",
        "ms",
        "stand-in",
        w.deno.map((x) => x.coldStartMs),
        w.node.map((x) => x.coldStartMs),
        w.python.map((x) => x.coldStartMs),
        {
          why:
            "the recipe registers only once its interpreter has imported livekit-agents and its " +
            "plugins (onnxruntime, numpy, aiohttp, the OpenAI SDK) and its forkserver has started " +
            "its idle processes (its two figures are the same); this project registers first, from " +
            "Deno's module cache, and prewarms its idle processes afterwards (the next row)",
        },
      ),
      row(
        "of which: launch → registered",
        "ms",
        "stand-in",
        w.deno.map((x) => x.registeredMs),
        w.node.map((x) => x.registeredMs),
        w.python.map((x) => x.registeredMs),
      ),
      row(
        "prewarm per idle process (Deno, Node: Silero VAD load; Python: process initialized, the recipe's prewarm included)",
        "ms",
        "stand-in",
        w.deno.flatMap((x) => x.vadLoadMs),
        w.node.flatMap((x) => x.vadLoadMs),
        w.python.flatMap((x) => x.processInitMs),
        {
          why:
            "both load the same Silero VAD with ONNX Runtime (native on both sides); this project's " +
            "figure is the load itself (prewarm.ts's own line), the recipe's the whole process " +
            "initialization its prewarm runs in (silero.VAD.load() and the round trip to the main " +
            "process), so it covers a little more",
        },
      ),
      row(
        "idle processes kept (production default)",
        "",
        "stand-in",
        w.deno.map((x) => x.idleProcesses),
        w.node.map((x) => x.idleProcesses),
        w.python.map((x) => x.idleProcesses),
      ),
      row(
        "idle worker RSS, every process of the tree",
        "MiB",
        "stand-in",
        w.deno.map(total),
        w.node.map(total),
        w.python.map((x) => MiB(x.totalRssKiB)),
        {
          why:
            "RSS counts shared pages in every process that maps them: the recipe's job processes are " +
            "forked from a forkserver that preloaded the plugins, and each counts those pages again",
        },
      ),
      row(
        "idle worker PSS, every process (shared pages counted once)",
        "MiB",
        "stand-in",
        w.deno.map(totalPss),
        w.node.map(totalPss),
        w.python.map((x) => MiB(x.totalPssKiB)),
        {
          why:
            "what the tree really holds: the recipe's forked job processes share the forkserver's " +
            "pages, while each of this project's job processes is a separate runtime (V8, agents-js, " +
            "its own VAD), and it keeps an inference process for the local end-of-turn model",
        },
      ),
      row(
        "main process RSS",
        "MiB",
        "stand-in",
        w.deno.map((x) => MiB(sumRole(x.processes, ["main"]))),
        w.node.map((x) => MiB(sumRole(x.processes, ["main"]))),
        w.python.map((x) => MiB(sumRole(x.processes, ["main"]))),
      ),
      row(
        "each idle job process RSS",
        "MiB",
        "stand-in",
        w.deno.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.rssKiB))),
        w.node.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.rssKiB))),
        w.python.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.rssKiB))),
      ),
      row(
        "each idle job process PSS",
        "MiB",
        "stand-in",
        w.deno.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.pssKiB ?? 0))),
        w.node.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.pssKiB ?? 0))),
        w.python.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.pssKiB))),
      ),
      row(
        "helper processes RSS (Deno, Node: inference process; Python: forkserver + resource tracker)",
        "MiB",
        "stand-in",
        w.deno.map((x) => MiB(sumRole(x.processes, ["inference"]))),
        w.node.map((x) => MiB(sumRole(x.processes, ["inference"]))),
        w.python.map((x) => MiB(sumRole(x.processes, ["forkserver", "resource_tracker"]))),
      ),
    );
  }
  const rd = roomRuns(raw, "deno");
  const rp = roomRuns(raw, "python");
  if (rd.length || rp.length) {
    const perCall = (r: RoomPerfRun, f: (m: RoomPerfRun["idle"]) => number, at: number) => {
      const n = r.calls.filter((c) => c.dispatchTries > 0).length;
      return n ? MiB(at - f(r.idle)) / n : NaN;
    };
    const never = (runs: RoomPerfRun[]) => {
      const calls = runs.flatMap((r) => r.calls).filter((c) => c.byeToGoodbyeMs !== undefined);
      return calls.length > 0 && calls.every((c) => c.goodbyeEndToDisconnectMs === undefined)
        ? `never, within the ${Math.round(runs[0].silenceBoundMs / 1000)} s waited`
        : undefined;
    };
    const words: Partial<Record<AgentRuntime, string>> = {};
    if (never(rd)) words.deno = never(rd);
    if (never(rp)) words.python = never(rp);
    rows.push(
      row(
        "real room: launch → registered with livekit-server",
        "ms",
        "room",
        rd.map((r) => r.registeredMs),
        [],
        rp.map((r) => r.registeredMs),
      ),
      row(
        "RSS per concurrent call (peak tree RSS during the calls − idle, / calls)",
        "MiB",
        "room",
        rd.map((r) => perCall(r, (m) => m.rssKiB, r.peakRssKiB)),
        [],
        rp.map((r) => perCall(r, (m) => m.rssKiB, r.peakRssKiB)),
        {
          why: "each call runs in its own job process on both sides (and the pool prewarms a " +
            "replacement); a job process of the recipe is forked from the forkserver, one of this " +
            "project is a fresh runtime, and RSS counts the forked process's shared pages in full",
        },
      ),
      row(
        "PSS per concurrent call (every call in progress − idle, / calls)",
        "MiB",
        "room",
        rd.map((r) => r.inCalls ? perCall(r, (m) => m.pssKiB, r.inCalls.pssKiB) : NaN),
        [],
        rp.map((r) => r.inCalls ? perCall(r, (m) => m.pssKiB, r.inCalls.pssKiB) : NaN),
        {
          why:
            "every call makes the pool prewarm a replacement idle process: for this project a new " +
            "runtime with its own private memory, for the recipe a fork whose pages stay shared " +
            "with the forkserver until written (PSS divides shared pages among their sharers)",
        },
      ),
      row(
        "reply latency heard by the caller (end of speech → first agent audio)",
        "ms",
        "room",
        perRun(rd, (c) => c.replyLatencyMs),
        [],
        perRun(rp, (c) => c.replyLatencyMs),
        {
          why:
            "both wait for their default turn detector before replying (this project: agents-js's " +
            "end-of-turn model in its inference process; the recipe: livekit-agents' local turn " +
            "detector), then the same simulated LLM (first token 200 ms) and TTS (first audio 100 ms)",
        },
      ),
      row(
        'bye → "Goodbye!" heard (end of bye → start of the goodbye at the caller)',
        "ms",
        "room",
        perRun(rd, (c) => c.byeToGoodbyeMs === undefined ? [] : [c.byeToGoodbyeMs]),
        [],
        perRun(rp, (c) => c.byeToGoodbyeMs === undefined ? [] : [c.byeToGoodbyeMs]),
        {
          why: "the same path on both sides: the LLM's tool call (requested early, at the final " +
            "transcript, by preemptive generation) runs once the turn detector ends the turn, " +
            "then on_exit's goodbye is synthesized and played",
        },
      ),
      row(
        "goodbye end → caller disconnected",
        "ms",
        "room",
        perRun(
          rd,
          (c) => c.goodbyeEndToDisconnectMs === undefined ? [] : [c.goodbyeEndToDisconnectMs],
        ),
        [],
        perRun(
          rp,
          (c) => c.goodbyeEndToDisconnectMs === undefined ? [] : [c.goodbyeEndToDisconnectMs],
        ),
        {
          words,
          why:
            "this project deletes the room once the goodbye has played, which disconnects the caller " +
            "(ROOM_DELETED); the recipe's close never completes (end_session waits on session.drain(), " +
            "which waits on the turn running end_session), and its close would not delete the room anyway (livekit-agents' delete_room_on_close is off by default)",
        },
      ),
      row(
        'calls that said bye and heard "Goodbye!" in full',
        "%",
        "room",
        rd.map((r) => 100 * share(r, (c) => c.goodbyeInFull)),
        [],
        rp.map((r) => 100 * share(r, (c) => c.goodbyeInFull)),
        { noRatio: true },
      ),
    );
  }
  return rows;
}

function share(r: RoomPerfRun, f: (c: RoomPerfRun["calls"][number]) => boolean): number {
  const calls = r.calls.filter((c) => c.byeSaid);
  return calls.length ? calls.filter(f).length / calls.length : NaN;
}

/** The performance table as Markdown. */
export function perfTable(rows: PerfRow[], withNode: boolean): string {
  const head = withNode
    ? "| Figure | Unit | Deno | Node | Python (recipe) | Python/Deno | Node/Deno |"
    : "| Figure | Unit | Deno | Python (recipe) | Python/Deno |";
  const lines = [head, head.replace(/[^|]+/g, " --- ")];
  for (const r of rows) {
    const d = r.digits ?? 0;
    const c = (rt: AgentRuntime, s: Summary) => r.words?.[rt] ?? formatSummary(s, d);
    const figure = r.where === "room" ? `${r.figure} ¹` : r.figure;
    const ratio = (x: Summary) => r.noRatio ? "—" : formatSummary(x, 2);
    const cells = withNode
      ? [
        c("deno", r.deno),
        c("node", r.node),
        c("python", r.python),
        ratio(r.pythonRatio),
        ratio(r.nodeRatio),
      ]
      : [c("deno", r.deno), c("python", r.python), ratio(r.pythonRatio)];
    lines.push(`| ${figure} | ${r.unit} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Where the recipe's median is this far from this project's (either way), the two are "level". */
export const LEVEL_BAND = 0.1;

/**
 * Where this project is ahead of the recipe and where behind, in words, from the performance
 * rows (lower is better for every figure; within {@link LEVEL_BAND} counts as level) and the
 * behaviour records.
 */
export function aheadBehind(rows: PerfRow[], records: ScenarioRecord[]): {
  ahead: string[];
  behind: string[];
  level: string[];
} {
  const out = { ahead: [] as string[], behind: [] as string[], level: [] as string[] };
  for (const r of rows) {
    if (!r.why) continue;
    const ratio = r.pythonRatio.median;
    const d = r.deno.median;
    const p = r.python.median;
    const fmt = (x: number) => `${x.toFixed(r.unit === "MiB" ? 0 : 0)} ${r.unit}`.trim();
    if (r.words?.python && !r.words.deno && Number.isFinite(d)) {
      out.ahead.push(`${r.figure}: ${fmt(d)} against ${r.words.python} — ${r.why}`);
      continue;
    }
    if (!Number.isFinite(ratio)) continue;
    const line = `${r.figure}: ${fmt(d)} against ${fmt(p)} (recipe/project ${
      ratio.toFixed(2)
    }) — ${r.why}`;
    if (ratio > 1 + LEVEL_BAND) out.ahead.push(line);
    else if (ratio < 1 - LEVEL_BAND) out.behind.push(line);
    else out.level.push(line);
  }
  const of = (rt: AgentRuntime, scenario: string) =>
    records.filter((r) => r.runtime === rt && r.scenario === scenario && !r.error);
  const bye = (rt: AgentRuntime) => of(rt, "bye") as Extract<ScenarioRecord, { scenario: "bye" }>[];
  const closes = (rt: AgentRuntime) =>
    bye(rt).filter((r) => r.sessionClosedAt !== undefined).length;
  if (bye("deno").length && bye("python").length) {
    const d = closes("deno"), p = closes("python");
    if (d === bye("deno").length && p === 0) {
      out.ahead.push(
        `the exit flow completes: the session closes, the room is deleted and the caller is ` +
          `disconnected after the goodbye (${d}/${d} runs); the recipe's never closes (0/${
            bye("python").length
          }) — its end_session awaits session.drain(), which waits for the reply task that is ` +
          `itself awaiting end_session; this project's end_session asks for a draining shutdown and ` +
          `returns, and deletes the room when the session has closed`,
      );
    }
  }
  const hang = (rt: AgentRuntime) =>
    of(rt, "hangup_first") as Extract<ScenarioRecord, { scenario: "hangup_first" }>[];
  if (
    hang("deno").length && hang("python").length &&
    hang("deno").every((r) => !r.goodbyeAfterHangup) &&
    hang("python").every((r) => r.goodbyeAfterHangup)
  ) {
    out.ahead.push(
      'a caller who hangs up first costs no goodbye: the recipe\'s on_exit synthesizes "Goodbye!" ' +
        "for nobody (paid TTS); this project skips it when the participant is gone",
    );
  }
  const term = (rt: AgentRuntime) =>
    of(rt, "sigterm") as Extract<ScenarioRecord, { scenario: "sigterm" }>[];
  if (
    term("deno").length && term("python").length &&
    term("deno").every((r) => r.exit && !r.exit.forced) &&
    term("python").every((r) => r.exit?.forced)
  ) {
    out.ahead.push(
      "SIGTERM during a call: both let the call finish, but the recipe's worker then waits for a " +
        "job that never ends (livekit-agents' drain timeout is 1 h by default) and has to be killed; this " +
        "project's exits once the call has ended",
    );
  }
  const fails = (rt: AgentRuntime) =>
    of(rt, "llm_fails") as Extract<ScenarioRecord, { scenario: "llm_fails" }>[];
  if (
    fails("deno").length && fails("python").length &&
    fails("deno").every((r) => r.saidAfterFailure.length > 0) &&
    fails("python").every((r) => r.saidAfterFailure.length === 0)
  ) {
    out.ahead.push(
      "an LLM failure on the bye: the recipe's caller hears nothing (livekit-agents logs the error " +
        "and waits for the next turn); this project apologizes and asks again, and ends the call " +
        "after repeated failures (MAX_FAILED_TURNS)",
    );
  }
  return out;
}

/** The README/printed block: header, both tables, ahead/behind, notes. */
export function renderComparison(result: ComparisonResult): string {
  const m = result.machine;
  const when = result.date.slice(0, 16).replace("T", " ");
  const rows = perfRows(result.raw);
  const withNode = result.raw.worker.node.length > 0 || result.runtimes.includes("node");
  const brows: BehaviourRow[] = behaviourRows(result.raw.behaviour, result.runtimes);
  const ab = aheadBehind(rows, result.raw.behaviour);
  const lk = result.versions.pythonPackages["livekit-agents"];
  const loads = [
    ...result.raw.room.map((r) => r.load[0]),
    ...result.raw.behaviour.map((r) => r.load[0]),
  ].filter(Number.isFinite);
  const lat = result.modelLatency;
  const list = (xs: string[]) => xs.length ? xs.map((x) => `- ${x}`).join("\n") : "- (none)";
  return [
    `Date: ${when} UTC · machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}  `,
    `Runtimes: ${result.versions.deno}${
      result.versions.node ? ` · ${result.versions.node}` : ""
    } · ` +
    `${result.versions.python} with livekit-agents ${lk} · load average at start ` +
    `${result.loadavg.start.join(" ")}, at end ${result.loadavg.end.join(" ")}` +
    (loads.length ? `, during the room runs ${Math.min(...loads)}–${Math.max(...loads)}` : "") +
    "  ",
    `Command: \`${result.command}\` · ${result.runs} interleaved runs per figure, ${result.calls} ` +
    `concurrent calls per room run · simulated LLM first token ${lat.llmFirstTokenMs} ms, TTS first ` +
    `audio ${lat.ttsFirstAudioMs} ms · turn detection: each side's default` +
    (result.turnDetection ? ` (this project: TURN_DETECTION=${result.turnDetection})` : ""),
    "",
    "**Performance** (median, min–max over the runs; ratios pair run i of each side):",
    "",
    perfTable(rows, withNode),
    "",
    "¹ In a real room: the real livekit-server, the caller on rtc-node, the Inference simulation, " +
    "inside the test sandbox; capacity counted in calls on both sides so the shared machine's CPU " +
    "turns no call away. The other rows: idle workers against the worker-endpoint stand-in.",
    "",
    "**Behaviour** (each cell from the scenario runs in a real room; `bench/python_peer/room_scenarios.ts`):",
    "",
    behaviourTable(brows, result.runtimes),
    "",
    "Where this project is ahead of the recipe:",
    "",
    list(ab.ahead),
    "",
    "Where it is behind:",
    "",
    list(ab.behind),
    "",
    `Level (within ±${Math.round(LEVEL_BAND * 100)} %):`,
    "",
    list(ab.level),
    ...(evidence(result.raw).length ? ["", "Also seen:", "", list(evidence(result.raw))] : []),
    ...(result.skipped.length ? ["", "Not run:", "", list(result.skipped)] : []),
  ].join("\n");
}

/** Lines from the optional parts (the test utility, the console), each from its runs. */
export function evidence(raw: ComparisonRaw): string[] {
  const out: string[] = [];
  const failedCalls = raw.room.flatMap((r) =>
    r.calls.filter((c) => c.error).map((c) => `${r.runtime}: ${c.error}`)
  );
  const failedRuns = raw.room.filter((r) => r.error).map((r) => `${r.runtime}: ${r.error}`);
  if (failedCalls.length || failedRuns.length) {
    const n = raw.room.reduce((s, r) => s + r.calls.length, 0);
    out.push(
      `${failedCalls.length} of ${n} room calls and ${failedRuns.length} room run(s) did not ` +
        `complete, and are left out of the figures: ${
          [...failedRuns, ...failedCalls].map((e) => e.slice(0, 200)).join("; ")
        }`,
    );
  }
  const sr = raw.session;
  if (sr.length) {
    const pending = sr.find((x) => x.goodbye?.pending?.length)?.goodbye?.pending ?? [];
    out.push(
      `livekit-agents' own test utility \`AgentSession.run()\` (text only, no room; ${sr.length} ` +
        `run(s)): "hello" returned in ${sr.filter((x) => x.hello.returned).length}, the bye in ` +
        `${sr.filter((x) => x.goodbye?.returned).length}` +
        (pending.length ? ` (still pending: ${pending.join(", ")})` : "") +
        ": the deadlock is in the session, not in audio or rooms",
    );
  }
  const cp = raw.console.python;
  if (cp.length) {
    out.push(
      `console mode (${cp.length} run(s), the project's broker): end_session returned in ` +
        `${cp.filter((x) => x.toolReturned).length}, the goodbye played in ` +
        `${cp.filter((x) => x.goodbyePlayed).length}, the session closed by itself in ` +
        `${cp.filter((x) => x.sessionClosed).length}`,
    );
  }
  return out;
}

const README_START = "<!-- bench-python:start -->";
const README_END = "<!-- bench-python:end -->";
const README_HEADING = "### LiveKit's Python recipe beside this project (`deno task bench:python`)";

/**
 * Replaces the README's Python-comparison block, or inserts it (under its own heading) right
 * after the Deno/Node block, or at the end when there is none.
 */
export function withComparisonReadmeBlock(readme: string, block: string): string {
  const text = `${README_START}\n${block}\n${README_END}`;
  const a = readme.indexOf(README_START);
  const b = readme.indexOf(README_END);
  if (a >= 0 && b > a) return readme.slice(0, a) + text + readme.slice(b + README_END.length);
  const denoEnd = "<!-- bench:end -->";
  const after = readme.indexOf(denoEnd);
  if (after >= 0) {
    const at = after + denoEnd.length;
    return `${readme.slice(0, at)}\n\n${README_HEADING}\n\n${text}${readme.slice(at)}`;
  }
  return `${readme.trimEnd()}\n\n${README_HEADING}\n\n${text}\n`;
}
