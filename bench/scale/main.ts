/**
 * `deno task bench --only scale [--scenarios spread,deploy,crash,node,full] [--reps N]`: the five
 * scale scenarios (`scenarios.ts`) on the real livekit-server, real workers and real callers,
 * inside the test sandbox. Prints a summary per scenario and writes
 * `bench/results/scale_latest.json` (every call's record; earlier runs in git's history). Nothing passes
 * or fails on a timing.
 *
 * `deno run -A bench/scale/main.ts --out FILE [...]` runs it inside the sandbox already.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { realRoomProblem } from "../../testing/real_room/real_room.ts";
import { runInSandbox } from "../../testing/real_room/sandbox.ts";
import { fromFileUrl } from "../../testing/paths.ts";
import { loadavg, machineInfo } from "../proc.ts";
import {
  crashes,
  type CrashRecord,
  type DeployResult,
  fullFleet,
  type FullFleetResult,
  nodeLoss,
  type NodeLossResult,
  rollingDeploy,
  spread,
  type SpreadResult,
} from "./scenarios.ts";
import { scaleSummary } from "./report.ts";
import { writeLatestResult } from "../results.ts";

/** Every scenario, in order. */
export const SCENARIOS = ["spread", "deploy", "crash", "node", "full"] as const;

/** The whole run. */
export interface ScaleResult {
  date: string;
  command: string;
  machine: ReturnType<typeof machineInfo>;
  loadavg: { start: number[]; end: number[] };
  spread?: SpreadResult;
  deploy?: DeployResult;
  crash?: CrashRecord[];
  node?: NodeLossResult;
  full?: FullFleetResult[];
}

/** Runs the chosen scenarios (inside the sandbox) and returns what they measured. */
export async function runScale(scenarios: string[], reps: number, command: string) {
  const problem = realRoomProblem({ redis: scenarios.includes("node") });
  if (problem) throw new Error(`the scale benchmark cannot run: ${problem}`);
  const result: ScaleResult = {
    date: new Date().toISOString(),
    command,
    machine: machineInfo(),
    loadavg: { start: loadavg(), end: [] },
  };
  const step = (name: string) => console.error(`scale: ${name} (load ${loadavg()[0]})...`);
  if (scenarios.includes("spread")) {
    step("1. two workers, calls spread");
    result.spread = await spread(6, 5_000);
  }
  if (scenarios.includes("deploy")) {
    step("2. rolling deploy");
    result.deploy = await rollingDeploy(8, 4_000, 3);
  }
  if (scenarios.includes("crash")) {
    step(`3. a worker SIGKILLed mid-call, ${reps} time(s)`);
    result.crash = await crashes(reps);
  }
  if (scenarios.includes("node")) {
    step("4. two-node cluster, a node stops");
    result.node = await nodeLoss(4, 30_000);
  }
  if (scenarios.includes("full")) {
    step("5. full fleet, without the keeper");
    const without = await fullFleet(2, 2, 6, 500, false);
    step("5. full fleet, with the keeper");
    const withKeeper = await fullFleet(2, 2, 6, 500, true);
    result.full = [without, withKeeper];
  }
  result.loadavg.end = loadavg();
  return result;
}

/** Runs this module inside the sandbox and returns its result. */
export async function scaleInSandbox(args: string[]): Promise<ScaleResult> {
  const out = await Deno.makeTempFile({ prefix: "scale-", suffix: ".json" });
  try {
    const code = await runInSandbox(
      [Deno.execPath(), "run", "-A", fromFileUrl(import.meta.url), ...args, "--out", out],
      { required: true },
    );
    if (code !== 0) throw new Error(`the scale benchmark exited ${code}`);
    return JSON.parse(await Deno.readTextFile(out));
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** `--only scale`: runs in the sandbox, prints the summary, writes the JSON. */
export async function runScaleOnly(args: string[]): Promise<void> {
  const passed = args.filter((a, i) => a !== "--only" && args[i - 1] !== "--only");
  const result = await scaleInSandbox(passed);
  result.command = `deno task bench ${args.join(" ")}`.trim();
  console.log(scaleSummary(result));
  console.log(`\nwritten: ${await writeLatestResult("scale_latest.json", result)}`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scenarios: { type: "string", default: SCENARIOS.join(",") },
      reps: { type: "string", default: "3" },
      out: { type: "string" },
    },
  });
  const scenarios = values.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) {
    console.error(`error: unknown scenario ${unknown.join(", ")}; use ${SCENARIOS.join(", ")}`);
    Deno.exit(2);
  }
  const result = await runScale(
    scenarios,
    Math.max(1, Number(values.reps)),
    `deno task bench --only scale --scenarios ${scenarios.join(",")} --reps ${values.reps}`,
  );
  const json = JSON.stringify(result, null, 2) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, json);
  else console.log(json);
  console.error(scaleSummary(result));
  Deno.exit(0);
}
