/**
 * The comparison's performance table: one row per figure, each side's median and range over the
 * interleaved runs, and the pairwise ratios (run i of one side against run i of the other), with
 * why the two differ. Pure functions over the raw runs.
 *
 * @module
 */
import { formatSummary, median, pairedRatio, summarize, type Summary } from "../stats.ts";
import type { WorkerRun } from "../worker_run.ts";
import type { ComparisonRaw } from "./comparison_result.ts";
import type { AgentRuntime } from "./room_agent.ts";
import type { RoomPerfRun } from "./room_perf.ts";

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
  /** Cells that are words rather than a figure (e.g. "never (20 s waited)"). */
  words?: Partial<Record<AgentRuntime, string>>;
  digits?: number;
  /** A share or a count: no ratio is shown. */
  noRatio?: boolean;
  /** Why the two differ: the mechanism, true whichever way the figures fall. */
  why?: string;
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
        ? `never (${Math.round(runs[0].silenceBoundMs / 1000)} s waited)`
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

/**
 * The performance table as Markdown: each figure's number in the table and its words in a
 * numbered legend above it (`¹`: measured in a real room), so the table fits the docs' width.
 */
export function perfTable(rows: PerfRow[], withNode: boolean): string {
  const head = withNode
    ? "| Figure | Unit | Deno | Node | Python (recipe) | Python/Deno | Node/Deno |"
    : "| Figure | Unit | Deno | Python (recipe) | Python/Deno |";
  const legend = rows.map((r, i) => `${i + 1}. ${r.figure}`);
  const lines = [head, head.replace(/[^|]+/g, " --- ")];
  for (const [i, r] of rows.entries()) {
    const d = r.digits ?? 0;
    const c = (rt: AgentRuntime, s: Summary) => r.words?.[rt] ?? formatSummary(s, d);
    const figure = r.where === "room" ? `${i + 1} ¹` : `${i + 1}`;
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
  return `${legend.join("\n")}\n\n${lines.join("\n")}`;
}
