/**
 * The side-by-side runs themselves, inside the test sandbox (`main.ts` starts this module there
 * with `runInSandbox`, after preparing the peers outside, where PyPI and npm can be reached):
 *
 * 1. `worker`: idle workers against the worker-endpoint stand-in, Deno, Node and Python
 *    interleaved (the order rotates per run);
 * 2. `perf`: real-room performance runs, Deno and Python interleaved (`room_perf.ts`);
 * 3. `behaviour`: the real-room scenarios, each runtime in turn (`room_scenarios.ts`);
 * 4. `session`: the recipe through livekit-agents' test utility, once per run;
 * 5. `console` (only when asked): the exit flow through the console protocol, interleaved.
 *
 * `deno run -A bench/python_peer/in_sandbox.ts --plan PLAN.json --out RAW.json`; progress goes to
 * stderr with the load average. Every process is ended by PID by the part that started it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { RealRoom, realRoomProblem } from "../../testing/real_room/real_room.ts";
import { benchBrain, consoleRun } from "../console_run.ts";
import type { NodePeer } from "../node_peer/setup.ts";
import { descendants, killPids, loadavg } from "../proc.ts";
import { denoRuntime, nodeRuntime } from "../runtimes.ts";
import { workerRun } from "../worker_run.ts";
import type { ComparisonRaw } from "./comparison_result.ts";
import { pythonConsoleRun } from "./console_run.ts";
import type { AgentRuntime } from "./room_agent.ts";
import { roomPerfRun } from "./room_perf.ts";
import { type ScenarioBounds, type ScenarioName, SCENARIOS } from "./room_records.ts";
import { runScenario } from "./room_scenarios.ts";
import { pythonSessionRun } from "./session_run.ts";
import type { PythonPeer } from "./setup.ts";
import { pythonWorkerRun } from "./worker_run.ts";

/** The parts of a comparison run. */
export const PARTS = ["worker", "perf", "behaviour", "session", "console"] as const;
/** One part's name. */
export type Part = typeof PARTS[number];
/** The parts run unless asked otherwise (`console` repeats what the room shows, in text). */
export const DEFAULT_PARTS: Part[] = ["worker", "perf", "behaviour", "session"];

/** What `main.ts` asks this module to run. */
export interface Plan {
  parts: Part[];
  /** Interleaved runs of `worker`, `perf`, `session`, `console`. */
  runs: number;
  /** Runs of every behaviour scenario per runtime. */
  behaviourRuns: number;
  scenarios: ScenarioName[];
  /** Runtimes of the behaviour scenarios. */
  runtimes: AgentRuntime[];
  /** Concurrent calls per performance run. */
  calls: number;
  /** Capacity in calls during the performance runs (0: production, CPU-based). */
  maxJobs: number;
  bounds: Partial<ScenarioBounds>;
  /** `TURN_DETECTION` of this project's agent in the room ("" = default). */
  turnDetection: string;
  python: PythonPeer;
  node?: NodePeer;
}

/** What this module hands back. */
export interface SandboxResult {
  raw: ComparisonRaw;
  skipped: string[];
}

function progress(line: string): void {
  console.error(`  ${line} (load ${loadavg()[0]})`);
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    progress(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** Rotates `xs` by `i` (the order of an interleaved run). */
export function rotated<T>(xs: readonly T[], i: number): T[] {
  if (xs.length === 0) return [];
  const k = i % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Runs the plan; returns the raw runs and what was skipped. */
export async function runPlan(plan: Plan): Promise<SandboxResult> {
  const raw: ComparisonRaw = {
    worker: { deno: [], node: [], python: [] },
    room: [],
    behaviour: [],
    session: [],
    console: { deno: [], python: [] },
  };
  const skipped: string[] = [];
  const want = (p: Part) => plan.parts.includes(p);
  const cwd = await Deno.makeTempDir({ prefix: "side-by-side-" });
  const deno = denoRuntime(cwd);
  const node = plan.node ? nodeRuntime(plan.node) : undefined;
  const peers = { python: plan.python, node: plan.node };
  try {
    if (want("worker")) {
      const idle = Math.min(availableParallelism(), 4);
      const sides: ("deno" | "node" | "python")[] = node
        ? ["deno", "node", "python"]
        : ["deno", "python"];
      for (let i = 0; i < plan.runs; i++) {
        for (const side of rotated(sides, i)) {
          const label = `worker ${i + 1}/${plan.runs} ${side}`;
          if (side === "python") {
            raw.worker.python.push(await timed(label, () => pythonWorkerRun(plan.python)));
          } else {
            const rt = side === "node" && node ? node : deno;
            raw.worker[side].push(await timed(label, () => workerRun(rt, idle)));
          }
        }
      }
      if (!node) skipped.push("the Node peer (worker rows): not prepared (`--no-node`)");
    }
    const roomParts = want("perf") || want("behaviour");
    const problem = roomParts ? realRoomProblem() : undefined;
    if (problem) skipped.push(`the real-room parts: ${problem}`);
    if (roomParts && !problem) {
      await using room = await RealRoom.start({ gateway: { llm: benchBrain() } });
      if (want("perf")) {
        for (let i = 0; i < plan.runs; i++) {
          for (const rt of rotated(["deno", "python"] as const, i)) {
            raw.room.push(
              await timed(
                `room perf ${i + 1}/${plan.runs} ${rt}`,
                () =>
                  roomPerfRun(room, rt, peers, {
                    calls: plan.calls,
                    maxJobs: plan.maxJobs,
                    silenceBoundMs: plan.bounds.silenceMs,
                    agent: { turnDetection: plan.turnDetection },
                  }),
              ),
            );
          }
        }
      }
      if (want("behaviour")) {
        const runtimes = plan.runtimes.filter((rt) => rt !== "node" || node);
        if (runtimes.length < plan.runtimes.length) {
          skipped.push("the Node peer (behaviour): not prepared (`--no-node`)");
        }
        let turn = 0;
        for (let i = 0; i < plan.behaviourRuns; i++) {
          for (const scenario of plan.scenarios) {
            for (const rt of rotated(runtimes, turn++)) {
              raw.behaviour.push(
                await timed(
                  `${scenario} ${i + 1}/${plan.behaviourRuns} ${rt}`,
                  () =>
                    runScenario(room, scenario, rt, peers, {
                      bounds: plan.bounds,
                      agent: { turnDetection: plan.turnDetection },
                    }),
                ),
              );
            }
          }
        }
      }
    }
    if (want("session")) {
      for (let i = 0; i < plan.runs; i++) {
        raw.session.push(
          await timed(`session ${i + 1}/${plan.runs}`, () => pythonSessionRun(plan.python)),
        );
      }
    }
    if (want("console")) {
      for (let i = 0; i < plan.runs; i++) {
        for (const side of rotated(["deno", "python"] as const, i)) {
          if (side === "deno") {
            raw.console.deno.push(await timed(`console ${i + 1} deno`, () => consoleRun(deno)));
          } else {
            raw.console.python.push(
              await timed(`console ${i + 1} python`, () => pythonConsoleRun(plan.python)),
            );
          }
        }
      }
    }
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
  return { raw, skipped };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { plan: { type: "string" }, out: { type: "string" } },
  });
  if (!values.plan || !values.out) {
    console.error(
      "usage: deno run -A bench/python_peer/in_sandbox.ts --plan PLAN.json --out OUT.json",
    );
    Deno.exit(2);
  }
  const plan = JSON.parse(await Deno.readTextFile(values.plan)) as Plan;
  plan.scenarios = plan.scenarios.filter((s) => (SCENARIOS as readonly string[]).includes(s));
  const result = await runPlan(plan);
  await Deno.writeTextFile(values.out, JSON.stringify(result) + "\n");
  // Every part ended its processes by PID; anything still below this process is a straggler.
  const left = descendants(Deno.pid);
  if (left.length > 0) {
    console.error(`warning: ${left.length} process(es) left behind, killed: ${left.join(" ")}`);
    killPids(left);
  }
  Deno.exit(0);
}
