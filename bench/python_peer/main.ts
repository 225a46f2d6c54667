/**
 * `deno task bench:python`: LiveKit's Python recipe (the peer) beside this project on Deno, same
 * machine, same run, loopback only, interleaved pairs. Prints a table and writes
 * `bench/results/python-peer-<date>.json` and `bench/results/python-peer-latest.json`.
 *
 * Parts (`--only worker|console|vad|session|room`, default all):
 * - worker: `start` against the worker-endpoint stand-in, idle, each runtime with its production
 *   default of idle processes (Deno: `--num-idle-processes` min(cpus, 4); Python: one per CPU):
 *   cold start to registered with every idle process prewarmed, prewarm per process, memory per
 *   process (RSS and PSS), SIGTERM of the idle worker;
 * - console: the exit flow through the project's console broker and the Inference gateway;
 * - vad: the recipe's prewarm (`silero.VAD.load()`) alone, in a fresh interpreter;
 * - session: the exit flow through livekit-agents' test utility (`AgentSession.run()`, no audio);
 * - room: the Python peer in a real LiveKit room (server, gateway, worker, caller inside a network
 *   namespace this run creates; needs root and the server binary, else reported as skipped).
 *
 * Flags: `--runs N` (pairs per figure, default 3), `--room-runs N` (calls per scenario, default 1),
 * `--stuck-after MS` (console: how long to wait for a close after the goodbye, default 20000),
 * `--no-deno` (Python only), `--no-readme` (leave README.md alone; by default its Python-peer
 * block is replaced), `--render FILE` (re-print a saved result, and rewrite the README block from
 * it, without running).
 *
 * Nothing here passes or fails on a timing: the benchmark reports.
 *
 * @module
 */
import { availableParallelism, cpus, hostname, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { type ConsoleRun, consoleRun, LATENCY } from "../console_run.ts";
import { fromFileUrl, join, ROOT } from "../node_peer/paths_root.ts";
import { loadavg } from "../proc.ts";
import { denoRuntime } from "../runtimes.ts";
import { formatSummary, pairedRatio, summarize, type Summary } from "../stats.ts";
import { type WorkerRun, workerRun } from "../worker_run.ts";
import { type PythonConsoleRun, pythonConsoleRun } from "./console_run.ts";
import {
  disposeRtc,
  execInNetns,
  insideNetns,
  type PythonRoomRun,
  pythonRoomRun,
  roomUnavailable,
} from "./room_run.ts";
import { type PythonSessionRun, pythonSessionRun } from "./session_run.ts";
import { preparePythonPeer, type PythonPeer } from "./setup.ts";
import { pythonVadLoad, type VadLoad } from "./vad_load.ts";
import { type PythonWorkerRun, pythonWorkerRun } from "./worker_run.ts";

/** One row of the table: a figure for Deno and Python, and their pairwise ratio. */
export interface PeerRow {
  figure: string;
  unit: string;
  deno: Summary;
  python: Summary;
  /** Python/Deno, pair by pair (how many times the recipe's figure is this project's). */
  ratio: Summary;
  digits?: number;
}

/** The whole result, as written to JSON. */
export interface PeerBenchResult {
  date: string;
  command: string;
  machine: { hostname: string; cpu: string; cores: number; memGiB: number; kernel: string };
  versions: { deno: string; python: string; pythonPackages: Record<string, string> };
  gatewayLatency: typeof LATENCY;
  loadavg: { start: number[]; end: number[] };
  runs: number;
  rows: PeerRow[];
  /** Behaviour of the recipe's exit flow, in words, each from the runs below. */
  behaviour: string[];
  notes: string[];
  raw: {
    worker: { deno: WorkerRun[]; python: PythonWorkerRun[] };
    console: { deno: ConsoleRun[]; python: PythonConsoleRun[] };
    vad: VadLoad[];
    session: PythonSessionRun[];
    room: PythonRoomRun[];
    roomSkipped?: string;
  };
}

const MiB = (kib: number) => kib / 1024;

function row(
  figure: string,
  unit: string,
  d: number[],
  p: number[],
  digits = 0,
): PeerRow {
  return {
    figure,
    unit,
    deno: summarize(d),
    python: summarize(p),
    ratio: pairedRatio(p, d),
    digits,
  };
}

/** Sum of one field over the processes of one role. */
function byRole<T extends { role: string }>(ps: T[], role: string, f: (p: T) => number): number {
  return ps.filter((p) => p.role === role).reduce((s, p) => s + f(p), 0);
}

/** Per-process mean over the processes of one role (NaN when there is none). */
function eachOfRole<T extends { role: string }>(ps: T[], role: string, f: (p: T) => number) {
  const xs = ps.filter((p) => p.role === role);
  return xs.length ? xs.reduce((s, p) => s + f(p), 0) / xs.length : NaN;
}

/** Builds the table rows from the raw runs. */
export function buildPeerRows(r: PeerBenchResult["raw"]): PeerRow[] {
  const w = r.worker;
  const c = r.console;
  const rows: PeerRow[] = [];
  if (w.deno.length || w.python.length) {
    rows.push(
      row(
        "cold start: `start` → registered + idle processes prewarmed (worker stand-in)",
        "ms",
        w.deno.map((x) => x.coldStartMs),
        w.python.map((x) => x.coldStartMs),
      ),
      row(
        "of which: launch → registered",
        "ms",
        w.deno.map((x) => x.registeredMs),
        w.python.map((x) => x.registeredMs),
      ),
      row(
        "Python only: launch → imports done (`starting worker`)",
        "ms",
        [],
        w.python.map((x) => x.importedMs),
      ),
      row(
        "prewarm per idle process (Deno: VAD load; Python: initialize incl. the recipe's prewarm)",
        "ms",
        w.deno.flatMap((x) => x.vadLoadMs),
        w.python.flatMap((x) => x.processInitMs),
      ),
      row(
        "idle processes kept",
        "",
        w.deno.map((x) => x.idleProcesses),
        w.python.map((x) => x.idleProcesses),
      ),
      row(
        "idle worker RSS, every process of the tree",
        "MiB",
        w.deno.map((x) => MiB(x.processes.reduce((s, p) => s + p.rssKiB, 0))),
        w.python.map((x) => MiB(x.totalRssKiB)),
      ),
      row(
        "idle worker PSS, every process of the tree (shared pages counted once)",
        "MiB",
        w.deno.map((x) => MiB(x.processes.reduce((s, p) => s + (p.pssKiB ?? 0), 0))),
        w.python.map((x) => MiB(x.totalPssKiB)),
      ),
      row(
        "main process RSS",
        "MiB",
        w.deno.map((x) => MiB(byRole(x.processes, "main", (p) => p.rssKiB))),
        w.python.map((x) => MiB(byRole(x.processes, "main", (p) => p.rssKiB))),
      ),
      row(
        "each idle job process RSS",
        "MiB",
        w.deno.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.rssKiB))),
        w.python.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.rssKiB))),
      ),
      row(
        "each idle job process PSS",
        "MiB",
        w.deno.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.pssKiB ?? 0))),
        w.python.map((x) => MiB(eachOfRole(x.processes, "job", (p) => p.pssKiB))),
      ),
      row(
        "helper process RSS (Deno: inference process; Python: forkserver + resource tracker)",
        "MiB",
        w.deno.map((x) => MiB(byRole(x.processes, "inference", (p) => p.rssKiB))),
        w.python.map((x) =>
          MiB(
            byRole(x.processes, "forkserver", (p) => p.rssKiB) +
              byRole(x.processes, "resource_tracker", (p) => p.rssKiB),
          )
        ),
      ),
      row(
        "Python only: idle worker SIGTERM → exit",
        "ms",
        [],
        w.python.map((x) => x.sigterm.exitMs),
      ),
    );
  }
  if (r.vad.length) {
    rows.push(
      row(
        "Python only: silero.VAD.load() alone, fresh interpreter",
        "ms",
        [],
        r.vad.map((v) => v.loadMs),
      ),
    );
  }
  if (c.deno.length || c.python.length) {
    const cf = (f: (x: PythonConsoleRun) => number | undefined) => c.python.map((x) => f(x) ?? NaN);
    rows.push(
      row(
        "console: launch → agent connected to the broker",
        "ms",
        c.deno.map((x) => x.coldStartMs),
        cf((x) => x.coldStartMs),
      ),
      row(
        '"goodbye" sent → first goodbye audio frame',
        "ms",
        c.deno.map((x) => x.frameworkByeToAudioMs + x.standInOnPathMs),
        cf((x) => x.byeToGoodbyeAudioMs),
      ),
      row(
        `of which framework (minus gateway LLM ${LATENCY.llmFirstTokenMs} + TTS ${LATENCY.ttsFirstAudioMs} ms)`,
        "ms",
        c.deno.map((x) => x.frameworkByeToAudioMs),
        cf((x) => x.frameworkByeToAudioMs),
      ),
      row(
        "goodbye playout acknowledged → session closed (socket)",
        "ms",
        c.deno.map((x) => x.ackToSocketClosedMs),
        cf((x) => x.ackToSocketClosedMs),
      ),
      row(
        "end_session returned (1 yes, 0 no)",
        "",
        c.deno.map((x) => (Number.isFinite(x.byeToToolMs) ? 1 : 0)),
        c.python.map((x) => (x.toolReturned ? 1 : 0)),
        1,
      ),
      row(
        "session closed by itself after the goodbye (1 yes, 0 no)",
        "",
        c.deno.map((x) => (Number.isFinite(x.ackToSocketClosedMs) ? 1 : 0)),
        c.python.map((x) => (x.sessionClosed ? 1 : 0)),
        1,
      ),
      row(
        "peak RSS, console agent",
        "MiB",
        c.deno.map((x) => MiB(x.peakRssKiB)),
        c.python.map((x) => MiB(x.peakRssKiB)),
      ),
    );
  }
  return rows;
}

/** What the runs showed about the recipe's exit flow, in words (each line from the data). */
export function describeBehaviour(r: PeerBenchResult["raw"]): string[] {
  const out: string[] = [];
  const cp = r.console.python;
  if (cp.length) {
    const returned = cp.filter((x) => x.toolReturned).length;
    const closed = cp.filter((x) => x.sessionClosed).length;
    const played = cp.filter((x) => x.goodbyePlayed).length;
    out.push(
      `console (${cp.length} runs): end_session returned in ${returned}, the goodbye played in ` +
        `${played}, the session closed by itself in ${closed}` +
        (closed < cp.length
          ? `; otherwise nothing happened for ${
            Math.round(summarize(cp.map((x) => x.waitedMs ?? NaN)).median / 1000)
          } s after the goodbye, and the agent ${
            cp.every((x) => x.ending === "killed")
              ? `ignored SIGINT for 5 s (killed)`
              : `ended on SIGINT in ${cp.filter((x) => x.ending === "sigint").length}`
          }`
          : ""),
    );
    const stuck = cp.find((x) => x.stuck.length)?.stuck.find((t) =>
      t.awaits.some((a) => /end_session/.test(a))
    );
    if (stuck) out.push(`where end_session waits: ${stuck.awaits.join(" → ")}`);
  }
  const sr = r.session;
  if (sr.length) {
    const returned = sr.filter((x) => x.goodbye?.returned).length;
    const pending = sr.find((x) => x.goodbye?.pending?.length)?.goodbye?.pending ?? [];
    out.push(
      `test utility \`AgentSession.run()\` (LLM only, no audio; ${sr.length} runs): "hello" ` +
        `returned in ${sr.filter((x) => x.hello.returned).length}, "goodbye" in ${returned}` +
        (pending.length
          ? ` (after ${Math.round((sr[0].goodbye?.ms ?? 0) / 1000)} s still pending: ${
            pending.join(", ")
          })`
          : ""),
    );
  }
  for (const x of r.room) {
    if (!x.agentJoined) {
      out.push(
        `room, ${x.scenario}: the agent never joined (${
          x.workerAvailable
            ? `no dispatch in ${x.dispatchAttempts} fresh rooms`
            : "the worker reported full capacity for 60 s, so the server dispatched nothing"
        }); nothing else measured`,
      );
    }
    const dispatch = x.dispatchAttempts > 1
      ? ` (dispatched only in fresh room no. ${x.dispatchAttempts}: the busy worker had been unavailable)`
      : "";
    if (!x.agentJoined) continue;
    if (x.scenario === "bye") {
      out.push(
        `room${dispatch}, caller says bye: goodbye heard ${
          Math.round(x.goodbyeHeardMs ?? 0)
        } ms of ` +
          `${Math.round(x.goodbyeSynthesizedMs)} ms synthesized; the caller was ${
            x.callerDisconnected
              ? `disconnected (${x.disconnectReason}) ${
                Math.round(x.silenceAfterGoodbyeMs ?? 0)
              } ms after it`
              : `still connected ${Math.round((x.silenceAfterGoodbyeMs ?? 0) / 1000)} s after it ` +
                `(rooms still listed: ${x.roomsLeft.length})`
          }; after it hung up the job ${
            x.jobEndedAfterHangup
              ? `ended ${Math.round((x.hangupToJobEndMs ?? 0) / 1000)} s later`
              : `was still running ${Math.round(x.jobEndBoundMs / 1000)} s later`
          }; SIGTERM to the worker: ${
            x.sigterm.forced
              ? `not exited within ${x.sigterm.graceMs / 1000} s (killed)`
              : `exit ${x.sigterm.code} in ${Math.round(x.sigterm.exitMs)} ms`
          }`,
      );
    } else {
      out.push(
        `room${dispatch}, caller hangs up after the reply: goodbye synthesized after the hang-up ` +
          `(paid, unheard): ${x.goodbyeAfterHangup ? "yes" : "no"}; the job ${
            x.jobEndedAfterHangup
              ? `ended ${Math.round((x.hangupToJobEndMs ?? 0) / 1000)} s after the hang-up`
              : `was still running ${Math.round(x.jobEndBoundMs / 1000)} s later`
          }`,
      );
    }
  }
  return out;
}

/** The table as Markdown. */
export function peerTable(rows: PeerRow[]): string {
  const lines = [
    "| Figure | Unit | Deno median (min–max) | Python median (min–max) | Python/Deno pairwise |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const d = r.digits ?? 0;
    lines.push(
      `| ${r.figure} | ${r.unit} | ${formatSummary(r.deno, d)} | ${formatSummary(r.python, d)} | ${
        formatSummary(r.ratio, 2)
      } |`,
    );
  }
  return lines.join("\n");
}

function machine(): PeerBenchResult["machine"] {
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

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await fn();
  console.error(
    `  ${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s (load ${loadavg()[0]})`,
  );
  return v;
}

/** The command line of `bench:python` (see the module doc). */
export function parseBenchArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      runs: { type: "string", default: "3" },
      "room-runs": { type: "string", default: "1" },
      "stuck-after": { type: "string", default: "20000" },
      only: { type: "string" },
      "no-deno": { type: "boolean", default: false },
      render: { type: "string" },
      "no-readme": { type: "boolean", default: false },
    },
  }).values;
}

/** Runs the parts asked for; returns the result (also printed and written). */
export async function runPeerBench(args: string[], peer: PythonPeer): Promise<PeerBenchResult> {
  const values = parseBenchArgs(args);
  const runs = Math.max(1, Number(values.runs));
  const roomRuns = Math.max(0, Number(values["room-runs"]));
  const stuckAfterMs = Number(values["stuck-after"]);
  const want = (part: string) => !values.only || values.only === part;
  const withDeno = !values["no-deno"];
  const startLoad = loadavg();
  const cwd = await Deno.makeTempDir({ prefix: "exit-message-bench-" });
  const deno = denoRuntime(cwd);
  const idle = Math.min(availableParallelism(), 4);
  const raw: PeerBenchResult["raw"] = {
    worker: { deno: [], python: [] },
    console: { deno: [], python: [] },
    vad: [],
    session: [],
    room: [],
  };
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate which side goes first, so neither always runs on a warmer machine.
      const pythonFirst = i % 2 === 1;
      if (want("worker")) {
        const steps = [
          async () =>
            raw.worker.python.push(
              await timed(`worker ${i + 1}/${runs} python`, () => pythonWorkerRun(peer)),
            ),
          async () => {
            if (withDeno) {
              raw.worker.deno.push(
                await timed(`worker ${i + 1}/${runs} deno`, () => workerRun(deno, idle)),
              );
            }
          },
        ];
        for (const s of pythonFirst ? steps : steps.reverse()) await s();
      }
      if (want("console")) {
        const steps = [
          async () =>
            raw.console.python.push(
              await timed(`console ${i + 1}/${runs} python`, () =>
                pythonConsoleRun(peer, { stuckAfterMs })),
            ),
          async () => {
            if (withDeno) {
              raw.console.deno.push(
                await timed(`console ${i + 1}/${runs} deno`, () => consoleRun(deno)),
              );
            }
          },
        ];
        for (const s of pythonFirst ? steps : steps.reverse()) await s();
      }
      if (want("vad")) raw.vad.push(await timed(`vad ${i + 1}/${runs}`, () => pythonVadLoad(peer)));
      if (want("session")) {
        raw.session.push(await timed(`session ${i + 1}/${runs}`, () => pythonSessionRun(peer)));
      }
    }
    if (want("room") && roomRuns > 0) {
      if (!insideNetns()) raw.roomSkipped = roomUnavailable() ?? "not inside a network namespace";
      else {
        for (let i = 0; i < roomRuns; i++) {
          for (const scenario of ["bye", "hangup"] as const) {
            raw.room.push(
              await timed(
                `room ${scenario} ${i + 1}/${roomRuns}`,
                () => pythonRoomRun(peer, { scenario }),
              ),
            );
          }
        }
        await disposeRtc();
      }
    }
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
  const result: PeerBenchResult = {
    date: new Date().toISOString(),
    command: `deno task bench:python ${args.join(" ")}`.trim(),
    machine: machine(),
    versions: {
      deno: deno.version,
      python: peer.pythonVersion,
      pythonPackages: peer.versions,
    },
    gatewayLatency: LATENCY,
    loadavg: { start: startLoad, end: loadavg() },
    runs,
    rows: buildPeerRows(raw),
    behaviour: describeBehaviour(raw),
    notes: [
      "Python peer: LiveKit's recipe file unchanged (bench/python_peer/exit_message.py), run as its users run it: `python exit_message.py start` and `python -m livekit.agents console exit_message.py --connect-addr` (what `lk agent console` runs); LiveKit Inference pointed at the loopback gateway by LIVEKIT_INFERENCE_URL.",
      "Each runtime keeps its production default of idle processes: Deno `--num-idle-processes` min(cpus, 4), Python one per CPU (livekit-agents' default); on this machine both are " +
      `${idle}.`,
      "Python's job processes are forked from a forkserver that preloads the plugins, so they share its pages: RSS counts those pages in every process, PSS divides them. Deno's job processes are separate runtimes.",
      "The Deno console figures are bench/console_run.ts's (the project's agent, whose end_session returns at once); the Python ones bench/python_peer/console_run.ts's, with the same broker, gateway, scripted LLM and latencies.",
      ...(raw.roomSkipped ? [`room runs skipped: ${raw.roomSkipped}`] : []),
    ],
    raw,
  };
  return result;
}

const README_START = "<!-- bench-python:start -->";
const README_END = "<!-- bench-python:end -->";
const README_HEADING = "### LiveKit's Python recipe beside this project (`deno task bench:python`)";

/**
 * Replaces the README's Python-peer block, or inserts it (under its own heading) right after the
 * Deno/Node block, or at the end when there is none.
 */
export function withPeerReadmeBlock(readme: string, block: string): string {
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

/** The printed (and README) form of a result: header, table, behaviour, notes. */
export function renderPeerResult(result: PeerBenchResult): string {
  const m = result.machine;
  const when = result.date.slice(0, 16).replace("T", " ");
  const lk = result.versions.pythonPackages["livekit-agents"];
  const lat = result.gatewayLatency;
  return [
    `Date: ${when} UTC · machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}  `,
    `Runtimes: ${result.versions.deno} vs ${result.versions.python} (livekit-agents ${lk}) · ` +
    `load average at start ${result.loadavg.start.join(" ")}, at end ${
      result.loadavg.end.join(" ")
    }  `,
    `Command: \`${result.command}\` · ${result.runs} interleaved pairs per figure · gateway LLM ` +
    `first token ${lat.llmFirstTokenMs} ms, TTS first audio ${lat.ttsFirstAudioMs} ms`,
    "",
    peerTable(result.rows),
    "",
    "Behaviour of the recipe's exit flow (from the same runs):",
    "",
    ...result.behaviour.map((b) => `- ${b}`),
    "",
    "Notes:",
    "",
    ...result.notes.map((n) => `- ${n}`),
  ].join("\n");
}

async function report(result: PeerBenchResult, write = true, readme = true): Promise<void> {
  const text = renderPeerResult(result);
  console.log(`\n${text}`);
  if (readme) {
    const path = join(ROOT, "README.md");
    await Deno.writeTextFile(path, withPeerReadmeBlock(await Deno.readTextFile(path), text));
    // Laid out as `deno fmt` wants it, so `deno task ok` stays clean after a run.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--config", join(ROOT, "deno.json"), path],
      stdout: "null",
      stderr: "null",
    }).output();
    console.log("\nREADME.md: the Python peer block was updated");
  }
  if (!write) return;
  const dir = join(ROOT, "bench/results");
  await Deno.mkdir(dir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + "\n";
  const stamp = result.date.replace(/[:.]/g, "-");
  await Deno.writeTextFile(join(dir, `python-peer-${stamp}.json`), json);
  await Deno.writeTextFile(join(dir, "python-peer-latest.json"), json);
  console.log(`\nwritten: bench/results/python-peer-${stamp}.json and python-peer-latest.json`);
}

if (import.meta.main) {
  const values = parseBenchArgs(Deno.args);
  if (values.render) {
    // Re-prints a saved result without running.
    await report(JSON.parse(await Deno.readTextFile(values.render)), false, !values["no-readme"]);
    Deno.exit(0);
  }
  const roomWanted = (!values.only || values.only === "room") && values["room-runs"] !== "0";
  const unavailable = roomWanted ? roomUnavailable() : undefined;
  if (roomWanted && !unavailable && !insideNetns()) {
    // Build the environment first (outside the namespace: PyPI is needed once), then run the
    // whole bench inside a fresh network namespace, so the room runs can use its address.
    await preparePythonPeer((l) => console.error(l));
    Deno.exit(
      await execInNetns(fromFileUrl(import.meta.url), join(ROOT, "deno.json"), Deno.args),
    );
  }
  if (unavailable) console.error(`bench:python: room runs skipped: ${unavailable}`);
  console.error(`bench:python: load ${loadavg().join(" ")}`);
  const peer = await preparePythonPeer((l) => console.error(l));
  const result = await runPeerBench(Deno.args, peer);
  await report(result, true, !values["no-readme"]);
  Deno.exit(0);
}
