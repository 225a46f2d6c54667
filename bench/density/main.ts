/**
 * `deno task bench --only density`: how many calls a worker holds, and what each costs, for this
 * project beside LiveKit's Python recipe and beside this project with one call per process (as
 * it was before call hosts), in a real room: the real livekit-server, the Inference
 * simulation with fixed model latencies, real callers on rtc-node, all inside the test sandbox.
 *
 * Per runtime and level N (default 1, 2, 4, 6, 8 then up by 4 while it holds for this project;
 * 1, 2, 4, 6 for the recipe; 1 and 6 for `before`, this project with one call per process), a fresh worker with its defaults (capacity
 * counted in calls, so a busy machine turns no call away), then N concurrent calls: join, wait
 * for the agent, hello, questions for `--talk-seconds`, bye. Figures (`figures.ts`): the worker
 * tree's cores per call while the calls talk and over the whole call, RSS and PSS per call, reply
 * latency, goodbyes heard in full, goodbye end → disconnected, rooms left, jobs ended, the callers'
 * cores apart, the load. Verdicts (`verdict.ts`), tables (`table.ts`).
 *
 * Writes `bench/results/density_latest.json` (history in git) and the block of docs/density.md.
 *
 * Flags: `--runtimes deno,before,recipe`, `--levels 1,2,4+` (every runtime; `+`: then up while
 * it holds), `--talk-seconds 30`, `--callers-per-process 4`, `--memory-gib 4`, `--silence-s 10`,
 * `--stagger-ms 0` (between one call's join and the next; 0: all at once),
 * `--budget-minutes 25` (no level past the listed ones starts unless the run can end in time),
 * `--no-docs`, `--render FILE` (print a saved result and rewrite the docs block, no run).
 *
 * @module
 */
import { MODEL_LATENCY } from "../../testing/real_room/real_room.ts";
import { writeDocBlock } from "../doc_blocks.ts";
import { join, ROOT } from "../node_peer/paths_root.ts";
import { runPlanInSandbox } from "../sandbox_plan.ts";
import { loadavg, machineInfo } from "../proc.ts";
import { preparePythonPeer, type PythonPeer } from "../python_peer/setup.ts";
import { parseDensityArgs, type SandboxPlan } from "./plan.ts";
import { DENSITY_LATEST, type DensityRaw, type DensityResult, judge } from "./result.ts";
import { renderDensity } from "./table.ts";
import { writeLatestResult } from "../results.ts";

/** The docs page with the density block. */
export const DENSITY_DOC = "docs/density.md";
/** The block's name in it. */
export const DENSITY_BLOCK = "density";

/** Prints a result, writes its JSON (`write`) and its docs block (`docs`). */
export async function reportDensity(
  result: DensityResult,
  opts: { write: boolean; docs: boolean },
): Promise<void> {
  const text = renderDensity(result);
  console.log(`\n${text}\n`);
  if (opts.write) {
    console.log(`written: ${await writeLatestResult(DENSITY_LATEST, result)}`);
  }
  if (opts.docs) {
    await writeDocBlock(DENSITY_DOC, text, DENSITY_BLOCK);
    console.log(`${DENSITY_DOC}: the density block was updated`);
  }
}

/** Runs the density bench with `args` (or re-renders a saved result); returns the result. */
export async function runDensity(args: string[]): Promise<DensityResult> {
  const o = parseDensityArgs(args);
  if (o.render) {
    const saved = JSON.parse(await Deno.readTextFile(o.render)) as DensityResult;
    await reportDensity(saved, { write: false, docs: o.docs });
    return saved;
  }
  const started = performance.now();
  const startLoad = loadavg();
  console.error(`bench density: ${o.runtimes.join(", ")}; load ${startLoad.join(" ")}`);
  let python: PythonPeer | undefined;
  if (o.runtimes.includes("recipe")) python = await preparePythonPeer((l) => console.error(l));
  const plan: SandboxPlan = {
    runtimes: o.runtimes,
    levels: o.levels,
    talkSeconds: o.talkSeconds,
    callersPerProcess: o.callersPerProcess,
    silenceMs: o.silenceMs,
    staggerMs: o.staggerMs,
    budgetMinutes: o.budgetMinutes,
    python,
  };
  const raw = await runPlanInSandbox<DensityRaw>(
    new URL("./in_sandbox.ts", import.meta.url),
    plan,
    "the density levels",
    { required: true },
  );
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const agents = String(config.imports?.["@livekit/agents"] ?? "").split("@").pop();
  const versions: Record<string, string> = {
    deno: `${Deno.version.deno} (@livekit/agents ${agents})`,
  };
  if (python) {
    versions.python = `${python.pythonVersion.replace(/^Python /, "")} (livekit-agents ${
      python.versions["livekit-agents"]
    })`;
  }
  const result: DensityResult = {
    kind: "density",
    date: new Date().toISOString(),
    command: `deno task bench ${args.join(" ")}`.trim(),
    machine: machineInfo(),
    versions,
    modelLatency: { ...MODEL_LATENCY },
    loadavg: { start: startLoad, end: loadavg() },
    memoryBudgetMiB: o.memoryBudgetMiB,
    talkSeconds: raw.talkSeconds,
    callersPerProcess: raw.callersPerProcess,
    silenceMs: raw.silenceMs,
    staggerMs: raw.staggerMs,
    runtimes: judge(raw.levels, o.runtimes, o.memoryBudgetMiB),
    notes: raw.notes,
    wallSeconds: (performance.now() - started) / 1000,
  };
  await reportDensity(result, { write: true, docs: o.docs });
  return result;
}

if (import.meta.main) {
  try {
    await runDensity(Deno.args);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  Deno.exit(0);
}
