/**
 * `deno task bench`: this project against the same agent on Node.js, same machine, same run,
 * loopback only. Prints a table, writes `bench/results/deno_node_latest.json` (the latest run
 * only; earlier ones are in git's history) and replaces its block in `docs/benchmarks.md`.
 *
 * Flags: `--runs N` (pairs per figure, default 5), `--suite-runs N` (test-suite runs, default 5;
 * 0 skips), `--idle N` (idle processes of the `start` worker, default min(cpus, 4) as in
 * production), `--no-docs`, `--only console|worker|suite|room|voice|python|scale|density`,
 * `--levels 1,2,4,...`
 * (the concurrent calls of the room load, run inside the test sandbox: `bench/room_load.ts`). The
 * voice path (`bench/voice.ts`, its own flags with `--only voice`) and LiveKit's Python recipe
 * beside this project (`bench/python_peer/main.ts`, its own flags with `--only python`, the same as
 * `deno task bench:python`) run last. `--render FILE` prints a saved result of this bench, the
 * room load or the voice path, and rewrites its docs block from it, without running. `--only
 * scale` runs the scaling scenarios alone (`bench/scale/main.ts`, its own flags); `--only density`
 * the calls a worker holds and their cost beside the recipe's (`bench/density/main.ts`, its own
 * flags).
 *
 * Nothing here passes or fails on a timing: the benchmark reports.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { type ConsoleRun, consoleRun, LATENCY } from "./console_run.ts";
import { prepareNodePeer } from "./node_peer/setup.ts";
import { join, ROOT } from "./node_peer/paths_root.ts";
import { loadavg, type MachineInfo, machineInfo } from "./proc.ts";
import { denoRuntime, nodeRuntime, type Runtime } from "./runtimes.ts";
import { formatSummary, pairedRatio, summarize, type Summary } from "./stats.ts";
import { suiteRun } from "./suite.ts";
import { type WorkerRun, workerRun } from "./worker_run.ts";
import {
  lkStatsList,
  P95_FACTOR,
  roomLoadInSandbox,
  type RoomLoadResult,
  roomLoadTable,
} from "./room_load.ts";
import { runPythonComparison } from "./python_peer/main.ts";
import { reportVoice, runVoiceBench, type VoiceResult } from "./voice.ts";
import { BENCHMARKS_DOC, writeDocBlock } from "./doc_blocks.ts";

/** The Deno/Node result's file in `bench/results/`. */
export const LATEST = "deno_node_latest.json";
/** The room load result's file in `bench/results/`. */
export const ROOM_LATEST = "room_load_latest.json";

/** One row of the results table. */
export interface Row {
  /** Figure number in the issue (1-5) and name. */
  figure: string;
  unit: string;
  deno: Summary;
  node: Summary;
  /** Deno/Node, pair by pair. */
  ratio: Summary;
  /** The project's target, if it has one, and where the figure stands. */
  goal?: string;
  /** Digits to print. */
  digits?: number;
}

/** The whole result, as written to JSON. */
export interface BenchResult {
  date: string;
  command: string;
  machine: MachineInfo;
  runtimes: { deno: string; node: string; nodePackages: Record<string, string> };
  stand_in_latency: typeof LATENCY;
  loadavg: { start: number[]; end: number[] };
  runs: number;
  rows: Row[];
  notes: string[];
  /** Load in a real room (absent when skipped with `--only`). */
  room?: RoomLoadResult;
  raw: {
    console: { deno: ConsoleRun[]; node: ConsoleRun[] };
    worker: { deno: WorkerRun[]; node: WorkerRun[] };
    suiteMs: number[];
  };
}

const MiB = (kib: number) => kib / 1024;

function row(
  figure: string,
  unit: string,
  d: number[],
  n: number[],
  extra: Partial<Row> = {},
): Row {
  return {
    figure,
    unit,
    deno: summarize(d),
    node: summarize(n),
    ratio: pairedRatio(d, n),
    ...extra,
  };
}

function goalAtMost(label: string, value: number, limit: number, unit = ""): string {
  if (!Number.isFinite(value)) return `${label}: not measured`;
  return `${label} ≤ ${limit}${unit}: ${value <= limit ? "met" : "NOT met"} (${
    value.toFixed(unit ? 0 : 2)
  }${unit})`;
}

/** Builds the table rows from the raw runs. */
export function buildRows(
  c: { deno: ConsoleRun[]; node: ConsoleRun[] },
  w: { deno: WorkerRun[]; node: WorkerRun[] },
  suiteMs: number[],
): Row[] {
  const cf = (k: keyof ConsoleRun) => (runs: ConsoleRun[]) => runs.map((r) => r[k] as number);
  const both = (k: keyof ConsoleRun) => [cf(k)(c.deno), cf(k)(c.node)] as const;
  const wf = (f: (r: WorkerRun) => number) => [w.deno.map(f), w.node.map(f)] as const;
  const role = (r: WorkerRun, role: string) =>
    MiB(r.processes.filter((p) => p.role === role).reduce((s, p) => s + p.rssKiB, 0));
  const perJob = (r: WorkerRun) => {
    const jobs = r.processes.filter((p) => p.role === "job");
    return jobs.length ? MiB(jobs.reduce((s, p) => s + p.rssKiB, 0) / jobs.length) : NaN;
  };
  const agentTotal = (r: WorkerRun) =>
    MiB(r.processes.filter((p) => p.role !== "other").reduce((s, p) => s + p.rssKiB, 0));
  const sessionGrowth = (r: ConsoleRun) => MiB(r.peakRssKiB - r.connectRssKiB);
  const rows: Row[] = [];
  const cold = both("coldStartMs");
  const coldRatio = pairedRatio(...cold).median;
  rows.push(row("1a cold start: launch → console agent connected to broker", "ms", ...cold, {
    goal: goalAtMost("Deno/Node", coldRatio, 0.6),
  }));
  const wcold = wf((r) => r.coldStartMs);
  rows.push(
    row("1b cold start: `start` → registered + idle processes prewarmed", "ms", ...wcold, {
      goal: goalAtMost("Deno/Node", pairedRatio(...wcold).median, 0.6),
    }),
  );
  rows.push(row("1b′ of which: launch → registered", "ms", ...wf((r) => r.registeredMs)));
  rows.push(
    row(
      "2 prewarm: Silero VAD load per process (worker idle processes)",
      "ms",
      w.deno.flatMap((r) => r.vadLoadMs),
      w.node.flatMap((r) => r.vadLoadMs),
    ),
  );
  rows.push(row("2′ prewarm in the console agent (same line)", "ms", ...both("vadLoadMs")));
  rows.push(
    row('3a "bye" sent → end_session executed (broker event)', "ms", ...both("byeToToolMs")),
  );
  rows.push(
    row(
      "3b end_session executed → first goodbye audio frame",
      "ms",
      ...both("toolToGoodbyeAudioMs"),
    ),
  );
  rows.push(
    row(
      "3c first goodbye frame → playout acknowledged (audio plays)",
      "ms",
      ...both("goodbyePlayoutMs"),
    ),
  );
  rows.push(row("3d playout acknowledged → socket closed", "ms", ...both("ackToSocketClosedMs")));
  rows.push(row("3e socket closed → process exited", "ms", ...both("socketClosedToExitMs")));
  const fw = both("frameworkByeToAudioMs");
  rows.push(
    row(
      `3f framework share "bye" → first goodbye audio (minus stand-in LLM ${LATENCY.llmFirstTokenMs} + TTS ${LATENCY.ttsFirstAudioMs} ms)`,
      "ms",
      ...fw,
      { goal: goalAtMost("Deno", summarize(fw[0]).median, 150, " ms") },
    ),
  );
  const ackExit = both("ackToExitMs");
  rows.push(
    row("3g playout acknowledged → process exited", "ms", ...ackExit, {
      goal: goalAtMost("Deno", summarize(ackExit[0]).median, 300, " ms"),
    }),
  );
  rows.push(
    row(
      "4a peak RSS, console agent",
      "MiB",
      c.deno.map((r) => MiB(r.peakRssKiB)),
      c.node.map((r) => MiB(r.peakRssKiB)),
    ),
  );
  const idle = wf(agentTotal);
  rows.push(
    row("4b idle `start` worker RSS, all agent processes", "MiB", ...idle, {
      goal: `Deno ≤ Node: ${
        summarize(idle[0]).median <= summarize(idle[1]).median ? "met" : "NOT met"
      }`,
    }),
  );
  rows.push(row("4b′ main process", "MiB", ...wf((r) => role(r, "main"))));
  rows.push(
    row("4b″ inference process (local EOT model)", "MiB", ...wf((r) => role(r, "inference"))),
  );
  rows.push(row("4b‴ each idle job process", "MiB", ...wf(perJob)));
  rows.push(
    row(
      "4c added RSS per session in one process (console: peak − at connect)",
      "MiB",
      c.deno.map(sessionGrowth),
      c.node.map(sessionGrowth),
    ),
  );
  const perSession = (ws: WorkerRun[], cs: ConsoleRun[]) =>
    ws.map((r, i) => perJob(r) + (cs[i] ? sessionGrowth(cs[i]) : NaN));
  rows.push(
    row(
      "4d added RSS per concurrent `start` session (one job process + 4c)",
      "MiB",
      perSession(w.deno, c.deno),
      perSession(w.node, c.node),
    ),
  );
  rows.push(
    row("5 test suite wall time (`deno task test`)", "s", suiteMs.map((m) => m / 1000), [], {
      digits: 1,
    }),
  );
  return rows;
}

/**
 * The results table as Markdown: each figure's number in the table and its words in a legend
 * above it, so the table fits the docs' width.
 */
export function markdownTable(rows: Row[]): string {
  const legend = rows.map((r) => {
    const [id, ...words] = r.figure.split(" ");
    return `- **${id}** ${words.join(" ")}`;
  });
  const lines = [
    "| Figure | Unit | Deno (min–max) | Node (min–max) | Deno/Node | Goal |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const d = r.digits ?? 0;
    lines.push(
      `| ${r.figure.split(" ")[0]} | ${r.unit} | ${formatSummary(r.deno, d)} | ${
        formatSummary(r.node, d)
      } | ${formatSummary(r.ratio, 2)} | ${r.goal ?? ""} |`,
    );
  }
  return `${legend.join("\n")}\n\n${lines.join("\n")}`;
}

/** What the numbers mean, written under the table in the benchmarks page. */
export const BENCH_NOTES =
  `How to read it: every figure is the median of the runs, with min–max; the ratio is computed per
interleaved Deno/Node pair, then its median. Loopback only: the broker half (\`console/broker.ts\`),
the Inference stand-in (LLM first token and TTS first audio fixed, subtracted in 3f) and the worker
endpoint stand-in run in the bench process; the agent runs as \`main.ts console --connect-addr\` /
\`main.ts start\`. Node runs a copy of the same files from a scratch folder where the bench
installed the pinned packages with npm (\`--ignore-scripts\`) and tsx; a small shim
(\`bench/node_peer/deno_shim.mjs\`) maps the Deno APIs the code calls (\`Deno.env\`, \`Deno.exit\`,
signals, \`/proc\` reads...) onto Node's and polyfills \`Promise.withResolvers\`.

What the hang-up spends after the goodbye was heard (3d, 3e):
- 3d is agents-js 1.9.0's user-turn commit on close (\`AudioRecognition.commitUserTurn\`, fixed
  500 ms): \`closeImplInner\` first waits for the current speech's playout, then commits the user turn,
  and \`activity.close()\` awaits that commit, which sleeps 500 ms unless a final transcript arrived in
  the last 500 ms (or the close reason is \`error\`). The goodbye has already been acknowledged when it
  starts, so no audio is at stake: it only lets a last STT transcript of the user land in the
  history. It is not configurable; skipping it needs a patch of agents-js (or ending the job on
  "goodbye played" without waiting for \`Close\`, which loses the \`Close\` bookkeeping).
- 3e under Deno is the project's own log-flush grace (\`LOG_FLUSH_GRACE_MS\`, 200 ms, \`core/console_exit.ts\`
  \`armConsoleExit\`): once teardown is done the process exits by \`Deno.exit(0)\` rather than waiting
  for the event loop to empty, because agents-js 1.9.0 leaves timers running after close (a 5 s
  \`delay\` per \`Task.cancelAndWait\`, never cleared, and a 15 s user-away timer armed during close;
  found by instrumenting \`setTimeout\`), and the pretty logger offers no flush that reports
  completion. Before the models were closed and this grace replaced a fixed 2 s, 3e was 2024 ms.
  Under Node 20 the peer exits at once, but by crashing (see the exit note): Node 20's web streams
  assert when the STT socket delivers a message after its channel closed.
- So the 300 ms goal for 3g is not met: 3d (500 ms) is agents-js's and cannot be skipped without
  patching it, and 3e is the log flush.

Which processes an idle \`start\` worker holds: the main process (protocol, process pool, health
server), one inference process, and min(cpus, 4) idle job processes each holding a Silero VAD. The
inference process is forked whenever \`@livekit/local-inference\` loads (linux-x64) to host the local
audio end-of-turn model: the default turn detection of \`start\` (and the fallback of the cloud model
in \`dev\`). With \`TURN_DETECTION=vad\` or \`stt\` it serves nothing, yet agents-js 1.9.0 still forks
it (its registration is unconditional, no option): then it is the process this agent need not have.`;

function levelsOf(spec: string): number[] {
  return spec.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** What the room load figures mean, written under its table in the benchmarks page. */
export const ROOM_NOTES =
  `How it is measured (\`bench/room_load.ts\`): one \`main.ts start\` worker (production defaults,
\`MAX_JOBS=64\` so capacity is counted in calls, not CPU load) against the real livekit-server, all
inside the test sandbox; each caller is a real rtc-node participant (4 per caller process) that joins
a fresh room, waits for the agent, says hello and asks a question twice, then says bye. Reply latency
is what the caller hears: the end of its speech to the first agent audio after it (VAD endpointing
0.5 s, simulated LLM first token 200 ms and TTS first audio 100 ms included). "Goodbye heard in full"
compares the caller's recording with what the simulation synthesized for "Goodbye!". RSS per call is
the worker tree's peak during the level minus its idle RSS, over N (each call also makes the pool
prewarm a replacement process). CPU per call is the tree's CPU time over the level (job processes
that exited included), over N, and that over the call's length. The callers, the server and the
simulation share the same 2 cores, so the figures are an upper bound of what the agent alone costs.

LiveKit's own load tester, \`lk perf agent-load-test\` (LiveKit CLI v2.16.4), runs after the levels
when the bench finds \`lk\` (\`LK_BIN\`, \`~/.cache/exit-message/lk-v2.16.4/lk\`, or PATH); otherwise
the block says why it did not run.`;

/** Prints the room load result, writes its JSON and (with `docs`) its block in the docs. */
export async function reportRoom(
  room: RoomLoadResult,
  docs: boolean,
  write = true,
): Promise<void> {
  const header = [
    `Date: ${
      room.date.slice(0, 16).replace("T", " ")
    } UTC · machine: ${room.machine.cpu}, ${room.machine.cores} cores, ${room.machine.memGiB} GiB · turn detection: ${room.turnDetection}`,
    `Command: \`${room.command}\``,
  ].join("  \n");
  const summary =
    `Largest number of concurrent calls the machine above holds with p95 reply latency under ${P95_FACTOR}x its 1-call value (${
      Math.round(room.baselineP95Ms)
    } ms), every call completed and every goodbye heard in full: **${room.maxHeldN}**. At the end: ${room.roomsLeft.length} room(s) left (the server given its 20 s departure timeout to close the rooms of failed calls, whose callers hung up), ${room.jobsAssigned} job(s) assigned and ${room.jobsEnded} ended.`;
  const table = roomLoadTable(room);
  const lk = room.lk.ran
    ? `LiveKit's own load tester against the same worker (registered under an agent name), ${room.lk.version}: \`${room.lk.command}\`\n\n${
      lkStatsList(room.lk.table ?? "")
    }`
    : `LiveKit's own \`lk perf agent-load-test\` did not run: ${room.lk.why}.`;
  console.log(`\n${header}\n\n${table}\n\n${summary}\n\n${lk}\n`);
  if (docs) {
    const block = `${header}\n\n${table}\n\n${summary}\n\n${lk}\n\n${ROOM_NOTES}`;
    await writeDocBlock(BENCHMARKS_DOC, block, "room");
    console.log(`${BENCHMARKS_DOC}: the room load block was updated`);
  }
  if (!write) return;
  const dir = join(ROOT, "bench/results");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, ROOM_LATEST), JSON.stringify(room, null, 2) + "\n");
}

/** `deno task bench --only room`: the room load alone (no Node peer needed). */
export async function runRoomOnly(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      levels: { type: "string", default: "1,2,4,8,12,16,24" },
      "no-docs": { type: "boolean", default: false },
    },
  });
  const room = await roomLoadInSandbox(levelsOf(values.levels));
  room.command = `deno task bench ${args.join(" ")}`.trim();
  await reportRoom(room, !values["no-docs"]);
}

async function pairs<T>(
  label: string,
  runs: number,
  rts: { deno: Runtime; node: Runtime },
  fn: (rt: Runtime) => Promise<T>,
): Promise<{ deno: T[]; node: T[] }> {
  const out = { deno: [] as T[], node: [] as T[] };
  for (let i = 0; i < runs; i++) {
    // Alternate which runtime goes first, so neither always runs on a warmer machine.
    const order = i % 2 === 0 ? (["deno", "node"] as const) : (["node", "deno"] as const);
    const got: Partial<Record<"deno" | "node", T>> = {};
    for (const name of order) {
      const t0 = performance.now();
      got[name] = await fn(rts[name]);
      console.error(
        `  ${label} pair ${i + 1}/${runs}: ${name} done in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s (load ${loadavg()[0]})`,
      );
    }
    out.deno.push(got.deno!);
    out.node.push(got.node!);
  }
  return out;
}

/** Runs the benchmark; returns the result (also printed and written). */
export async function runBench(args: string[]): Promise<BenchResult> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "5" },
      "suite-runs": { type: "string", default: "5" },
      idle: { type: "string" },
      "no-docs": { type: "boolean", default: false },
      only: { type: "string" },
      levels: { type: "string", default: "1,2,4,8,12,16,24" },
    },
  });
  const runs = Math.max(1, Number(values.runs));
  const suiteRuns = Math.max(0, Number(values["suite-runs"]));
  const idle = Number(values.idle ?? Math.min(availableParallelism(), 4));
  const only = values.only;
  const startLoad = loadavg();
  console.error(`bench: ${runs} pairs per figure, load ${startLoad.join(" ")}`);
  const peer = await prepareNodePeer((l) => console.error(l));
  const cwd = await Deno.makeTempDir({ prefix: "exit-message-bench-" });
  const rts = { deno: denoRuntime(cwd), node: nodeRuntime(peer) };
  const empty = { deno: [], node: [] };
  try {
    const c = !only || only === "console"
      ? await pairs("console", runs, rts, (rt) => consoleRun(rt))
      : empty;
    const w = !only || only === "worker"
      ? await pairs("worker", runs, rts, (rt) => workerRun(rt, idle))
      : empty;
    const suiteMs: number[] = [];
    if (!only || only === "suite") {
      for (let i = 0; i < suiteRuns; i++) {
        suiteMs.push(await suiteRun());
        console.error(
          `  test suite run ${i + 1}/${suiteRuns}: ${(suiteMs[i] / 1000).toFixed(1)} s`,
        );
      }
    }
    const room = !only ? await roomLoadInSandbox(levelsOf(values.levels)) : undefined;
    const rows = buildRows(c, w, suiteMs);
    const endLoad = loadavg();
    const others = [...w.node.flatMap((r) => r.processes.filter((p) => p.role === "other"))];
    const result: BenchResult = {
      date: new Date().toISOString(),
      command: `deno task bench ${args.join(" ")}`.trim(),
      machine: machineInfo(),
      runtimes: { deno: rts.deno.version, node: rts.node.version, nodePackages: peer.versions },
      stand_in_latency: LATENCY,
      loadavg: { start: startLoad, end: endLoad },
      runs,
      rows,
      notes: [
        "Node peer: the same source files (copied), run by node --import tsx with bench/node_peer/deno_shim.mjs providing the few Deno APIs they call and Promise.withResolvers (absent in Node 20).",
        `Node's tree also holds tsx's esbuild service process (${
          others.length
            ? `${MiB(summarize(others.map((o) => o.rssKiB)).median).toFixed(0)} MiB`
            : "n/a"
        }), excluded from 4b: it belongs to the TypeScript runner, not the agent.`,
        "5 has no Node peer: the suite is Deno's own test runner.",
        ...exitNotes(c),
      ],
      room,
      raw: { console: c, worker: w, suiteMs },
    };
    await report(result, !values["no-docs"]);
    if (room) await reportRoom(room, !values["no-docs"]);
    // The voice path (bench/voice.ts), with its defaults; `--only voice` takes its own flags.
    if (!only) await runVoiceBench(values["no-docs"] ? ["--no-docs"] : [], peer);
    // The recipe side by side (bench/python_peer/), with its defaults.
    if (!only) await runPythonComparison(values["no-docs"] ? ["--no-docs"] : []);
    return result;
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

/** One note per runtime on how its console agents exited (status, and a crash if any). */
export function exitNotes(c: { deno: ConsoleRun[]; node: ConsoleRun[] }): string[] {
  return (["deno", "node"] as const).map((name) => {
    const runs = c[name];
    const codes = runs.map((r) => r.exitCode).join(", ");
    const crash = runs.find((r) => r.crash)?.crash;
    return `${name} console agent exit statuses: ${codes || "n/a"}${
      crash ? `; it crashed while exiting: ${crash.trim()}` : ""
    }`;
  });
}

async function report(result: BenchResult, docs: boolean, write = true): Promise<void> {
  const m = result.machine;
  const header = [
    `Date: ${
      result.date.slice(0, 16).replace("T", " ")
    } UTC · machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}`,
    `Runtimes: ${result.runtimes.deno} vs ${result.runtimes.node} (@livekit/agents ${
      result.runtimes.nodePackages["@livekit/agents"]
    } on both) · load average at start ${result.loadavg.start.join(" ")}, at end ${
      result.loadavg.end.join(" ")
    }`,
    `Command: \`${result.command}\` · ${result.runs} interleaved Deno/Node pairs per figure · stand-in LLM first token ${result.stand_in_latency.llmFirstTokenMs} ms, TTS first audio ${result.stand_in_latency.ttsFirstAudioMs} ms`,
  ].join("  \n");
  const table = markdownTable(result.rows);
  console.log(`\n${header}\n\n${table}\n`);
  for (const n of result.notes) console.log(`- ${n}`);
  if (write) {
    const dir = join(ROOT, "bench/results");
    await Deno.mkdir(dir, { recursive: true });
    // The latest result only: earlier ones stay in git's history.
    await Deno.writeTextFile(join(dir, LATEST), JSON.stringify(result, null, 2) + "\n");
    console.log(`\nwritten: bench/results/${LATEST}`);
  }
  if (docs) {
    const block = `${header}\n\n${table}\n\n${
      result.notes.map((n) => `- ${n}`).join("\n")
    }\n\n${BENCH_NOTES}`;
    await writeDocBlock(BENCHMARKS_DOC, block);
    console.log(`${BENCHMARKS_DOC}: the Deno/Node block was updated`);
  }
}

if (import.meta.main) {
  const render = Deno.args.indexOf("--render");
  if (render >= 0) {
    // Re-prints a saved result (Deno/Node, room load or voice path) and rewrites its docs block
    // from it, without running.
    const saved = JSON.parse(await Deno.readTextFile(Deno.args[render + 1]));
    const docs = !Deno.args.includes("--no-docs");
    if (saved.kind === "density") {
      const { reportDensity } = await import("./density/main.ts");
      await reportDensity(saved, { write: false, docs });
    } else if ("levels" in saved) await reportRoom(saved as RoomLoadResult, docs, false);
    else if ("turns" in saved) await reportVoice(saved as VoiceResult, docs);
    else await report(saved as BenchResult, docs, false);
    Deno.exit(0);
  }
  const onlyAt = Deno.args.indexOf("--only");
  if (onlyAt >= 0 && Deno.args[onlyAt + 1] === "room") await runRoomOnly(Deno.args);
  else if (onlyAt >= 0 && Deno.args[onlyAt + 1] === "voice") await runVoiceBench(Deno.args);
  else if (onlyAt >= 0 && Deno.args[onlyAt + 1] === "scale") {
    const { runScaleOnly } = await import("./scale/main.ts");
    await runScaleOnly(Deno.args);
  } else if (onlyAt >= 0 && Deno.args[onlyAt + 1] === "density") {
    const { runDensity } = await import("./density/main.ts");
    await runDensity(Deno.args);
  } else if (onlyAt >= 0 && Deno.args[onlyAt + 1] === "python") {
    await runPythonComparison(Deno.args.filter((_, i) => i !== onlyAt && i !== onlyAt + 1));
  } else await runBench(Deno.args);
  // Every child was killed by PID; nothing of ours holds the loop, but do not wait on stragglers.
  Deno.exit(0);
}
