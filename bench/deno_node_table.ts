/**
 * The Deno/Node result of `deno task bench` (`bench/main.ts` runs it) and its table: the result's
 * shape as written to JSON, one row per figure built from the raw runs (each with its goal, if the
 * project has one), the Markdown table with its legend, and the notes printed under it.
 *
 * @module
 */
import { type ConsoleRun, LATENCY } from "./console_run.ts";
import type { MachineInfo } from "./proc.ts";
import type { RoomLoadResult } from "./room_load.ts";
import { formatSummary, pairedRatio, summarize, type Summary } from "./stats.ts";
import type { WorkerRun } from "./worker_run.ts";

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

/** KiB to MiB. */
export const MiB = (kib: number) => kib / 1024;

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
