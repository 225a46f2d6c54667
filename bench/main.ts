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
 * The Deno/Node rows and table are built in `bench/deno_node_table.ts`, the room load reported by
 * `bench/room_report.ts`; this file runs the pairs and dispatches `--only` and `--render`.
 *
 * Nothing here passes or fails on a timing: the benchmark reports.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { consoleRun, LATENCY } from "./console_run.ts";
import { prepareNodePeer } from "./node_peer/setup.ts";
import { loadavg, machineInfo } from "./proc.ts";
import { denoRuntime, nodeRuntime, type Runtime } from "./runtimes.ts";
import { summarize } from "./stats.ts";
import { suiteRun } from "./suite.ts";
import { workerRun } from "./worker_run.ts";
import { roomLoadInSandbox, type RoomLoadResult } from "./room_load.ts";
import {
  BENCH_NOTES,
  type BenchResult,
  buildRows,
  exitNotes,
  markdownTable,
  MiB,
} from "./deno_node_table.ts";
import { levelsOf, reportRoom, runRoomOnly } from "./room_report.ts";
import { runPythonComparison } from "./python_peer/main.ts";
import { reportVoice, runVoiceBench, type VoiceResult } from "./voice.ts";
import { BENCHMARKS_DOC, writeDocBlock } from "./doc_blocks.ts";
import { writeLatestResult } from "./results.ts";

/** The Deno/Node result's file in `bench/results/`. */
export const LATEST = "deno_node_latest.json";

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
    console.log(`\nwritten: ${await writeLatestResult(LATEST, result)}`);
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
