/**
 * `deno task bench:python` (also `deno task bench --only python`, and the last part of a full
 * `deno task bench`): LiveKit's Python recipe beside this project, same machine, same run.
 * Prepares the peers outside the sandbox (the recipe's virtual environment from PyPI, the Node
 * peer from npm), runs everything inside the test sandbox (`in_sandbox.ts`), then prints both
 * tables, writes `bench/results/python_peer_latest.json` (the latest run only; earlier ones are
 * in git's history) and replaces its block in `docs/comparison.md` (`comparison.ts` renders it).
 *
 * Flags: `--runs N` (interleaved runs per figure, default 3), `--behaviour-runs N` (runs of
 * each scenario per runtime, default 1), `--calls N` (concurrent calls per room run, default 2),
 * `--parts worker,perf,behaviour,session,console` (or `--only PART`; default all but console),
 * `--scenarios bye,...`, `--runtimes deno,node,python` (of the behaviour table), `--no-node`,
 * `--max-jobs N` (capacity in calls during the performance runs, default 8; 0 = production
 * CPU-based capacity), `--turn-detection MODE` (this project's, default its own default),
 * `--silence-s S` (how long a caller waits to be disconnected, default 20), `--no-docs`,
 * `--render FILE` (print a saved result and rewrite the docs block from it, without running).
 *
 * Nothing here passes or fails on a timing: the benchmark reports.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MODEL_LATENCY } from "../../testing/real_room/real_room.ts";
import { ROOT } from "../node_peer/paths_root.ts";
import { runPlanInSandbox } from "../sandbox_plan.ts";
import { type NodePeer, prepareNodePeer } from "../node_peer/setup.ts";
import { loadavg, machineInfo } from "../proc.ts";
import { denoRuntime, nodeRuntime } from "../runtimes.ts";
import { COMPARISON_DOC, writeDocBlock } from "../doc_blocks.ts";
import { renderComparison } from "./comparison.ts";
import type { ComparisonResult } from "./comparison_result.ts";
import { DEFAULT_PARTS, type Part, PARTS, type Plan, type SandboxResult } from "./in_sandbox.ts";
import type { AgentRuntime } from "./room_agent.ts";
import { type ScenarioName, SCENARIOS } from "./room_records.ts";
import { preparePythonPeer } from "./setup.ts";
import { writeLatestResult } from "../results.ts";

/** The command line of the comparison (see the module doc). */
export function parseComparisonArgs(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "3" },
      "behaviour-runs": { type: "string", default: "1" },
      calls: { type: "string", default: "2" },
      parts: { type: "string" },
      only: { type: "string" },
      scenarios: { type: "string", default: SCENARIOS.join(",") },
      runtimes: { type: "string", default: "deno,node,python" },
      "no-node": { type: "boolean", default: false },
      "max-jobs": { type: "string", default: "8" },
      "turn-detection": { type: "string", default: "" },
      "silence-s": { type: "string", default: "20" },
      render: { type: "string" },
      "no-docs": { type: "boolean", default: false },
    },
  });
  const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
  const parts = list(values.parts ?? values.only ?? DEFAULT_PARTS.join(","));
  const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length) throw new Error(`unknown part ${bad.join(", ")}; parts: ${PARTS.join(", ")}`);
  const scenarios = list(values.scenarios);
  const badS = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (badS.length) {
    throw new Error(`unknown scenario ${badS.join(", ")}; scenarios: ${SCENARIOS.join(", ")}`);
  }
  const runtimes = list(values.runtimes).filter((r) => r !== "node" || !values["no-node"]);
  const badR = runtimes.filter((r) => !["deno", "node", "python"].includes(r));
  if (badR.length) {
    throw new Error(`unknown runtime ${badR.join(", ")}; runtimes: deno, node, python`);
  }
  const whole = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number ≥ ${min}`);
    return n;
  };
  return {
    runs: whole("runs", values.runs, 1),
    behaviourRuns: whole("behaviour-runs", values["behaviour-runs"], 0),
    calls: whole("calls", values.calls, 1),
    parts: parts as Part[],
    scenarios: scenarios as ScenarioName[],
    runtimes: runtimes as AgentRuntime[],
    node: !values["no-node"],
    maxJobs: whole("max-jobs", values["max-jobs"], 0),
    turnDetection: values["turn-detection"],
    silenceMs: 1000 * whole("silence-s", values["silence-s"], 1),
    render: values.render,
    docs: !values["no-docs"],
  };
}

/** The comparison's result file in `bench/results/`. */
export const PYTHON_LATEST = "python_peer_latest.json";

/** Prints a result, writes its JSON (unless re-rendering) and its block in the docs. */
export async function reportComparison(
  result: ComparisonResult,
  opts: { write: boolean; docs: boolean },
): Promise<void> {
  const text = renderComparison(result);
  console.log(`\n${text}`);
  if (opts.write) {
    console.log(`\nwritten: ${await writeLatestResult(PYTHON_LATEST, result)}`);
  }
  if (opts.docs) {
    await writeDocBlock(COMPARISON_DOC, text, "python");
    console.log(`${COMPARISON_DOC}: the Python comparison block was updated`);
  }
}

/** Runs the comparison (or re-renders a saved one); returns the result. */
export async function runPythonComparison(args: string[]): Promise<ComparisonResult | undefined> {
  const o = parseComparisonArgs(args);
  if (o.render) {
    const saved = JSON.parse(await Deno.readTextFile(o.render)) as ComparisonResult;
    await reportComparison(saved, { write: false, docs: o.docs });
    return saved;
  }
  const startLoad = loadavg();
  console.error(`bench:python: ${o.parts.join(", ")}; load ${startLoad.join(" ")}`);
  const python = await preparePythonPeer((l) => console.error(l));
  let node: NodePeer | undefined;
  if (o.node && (o.parts.includes("worker") || o.runtimes.includes("node"))) {
    node = await prepareNodePeer((l) => console.error(l));
  }
  const plan: Plan = {
    parts: o.parts,
    runs: o.runs,
    behaviourRuns: o.behaviourRuns,
    scenarios: o.scenarios,
    runtimes: o.runtimes,
    calls: o.calls,
    maxJobs: o.maxJobs,
    bounds: { silenceMs: o.silenceMs },
    turnDetection: o.turnDetection,
    python,
    node,
  };
  const got = await runPlanInSandbox<SandboxResult>(
    new URL("./in_sandbox.ts", import.meta.url),
    plan,
    "the comparison runs",
  );
  const result: ComparisonResult = {
    date: new Date().toISOString(),
    command: `deno task bench:python ${args.join(" ")}`.trim(),
    machine: machineInfo(),
    versions: {
      deno: denoRuntime(ROOT).version,
      node: node ? nodeRuntime(node).version : undefined,
      python: python.pythonVersion,
      pythonPackages: python.versions,
      nodePackages: node?.versions,
    },
    modelLatency: { ...MODEL_LATENCY },
    turnDetection: o.turnDetection,
    loadavg: { start: startLoad, end: loadavg() },
    runs: o.runs,
    calls: o.calls,
    runtimes: o.runtimes,
    skipped: got.skipped,
    raw: got.raw,
  };
  await reportComparison(result, { write: true, docs: o.docs });
  return result;
}

if (import.meta.main) {
  try {
    await runPythonComparison(Deno.args);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  Deno.exit(0);
}
