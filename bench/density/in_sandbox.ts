/**
 * The density levels themselves, inside the test sandbox (`main.ts` starts this module there
 * with `runInSandbox`, after preparing the recipe's environment outside, where PyPI can be
 * reached): one real livekit-server and Inference simulation for the whole run, then the levels
 * in `schedule` order, then, for each runtime that goes up, more calls while its last level holds.
 *
 * `deno run -A bench/density/in_sandbox.ts --plan PLAN.json --out RAW.json`; progress on stderr
 * with the load average.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RealRoom, realRoomProblem } from "../../testing/real_room/real_room.ts";
import { benchBrain } from "../console_run.ts";
import { descendants, loadavg } from "../proc.ts";
import { levelFigures } from "./figures.ts";
import { runLevel } from "./level.ts";
import { nextLevel, type SandboxPlan, schedule, SPECS } from "./plan.ts";
import type { DensityRaw } from "./result.ts";
import type { LevelSamples } from "./samples.ts";
import { baselineP95, levelVerdict } from "./verdict.ts";

function progress(s: LevelSamples, holds: boolean, why?: string): void {
  const f = levelFigures(s, 4096);
  console.error(
    `  ${s.runtime} ${s.n}: ${f.coresPerCallTalk.toFixed(3)} cores/call talking, ${
      f.coresPerCallWhole.toFixed(3)
    } whole; PSS ${f.pssPerCallMiB.toFixed(0)} MiB/call; reply p50/p95 ${
      Math.round(f.replyP50Ms)
    }/${Math.round(f.replyP95Ms)} ms; goodbyes ${f.goodbyesInFull}/${s.n}; callers ${
      f.callersCores.toFixed(2)
    } cores; load ${s.load.start[0]}→${s.load.end[0]}; ${Math.round(s.wallSeconds ?? NaN)} s; ${
      holds ? "holds" : `does not hold: ${why}`
    }`,
  );
}

/** Runs the plan's levels; returns the raw samples. */
export async function runDensityPlan(plan: SandboxPlan): Promise<DensityRaw> {
  const problem = realRoomProblem();
  if (problem) throw new Error(`the density benchmark cannot run: ${problem}`);
  const peers = { python: plan.python };
  const opts = {
    talkSeconds: plan.talkSeconds,
    callersPerProcess: plan.callersPerProcess,
    silenceMs: plan.silenceMs,
    staggerMs: plan.staggerMs,
  };
  const levels: LevelSamples[] = [];
  await using room = await RealRoom.start({ gateway: { llm: benchBrain() } });
  const run = async (runtime: keyof typeof SPECS, n: number) => {
    console.error(`density: ${runtime}, ${n} concurrent call(s) (load ${loadavg()[0]})...`);
    const s = await runLevel(room, SPECS[runtime], n, peers, opts);
    levels.push(s);
    const mine = levels.filter((l) => l.runtime === runtime)
      .map((l) => ({ ...l, figures: levelFigures(l, 4096) }));
    const v = levelVerdict(
      s,
      levelFigures(s, 4096),
      baselineP95(mine),
      SPECS[runtime].endsCalls,
    );
    progress(s, v.holds, v.why);
    return v.holds;
  };
  const began = performance.now();
  const budgetEnd = began + plan.budgetMinutes * 60_000;
  const notes: string[] = [];
  const lastHeld = new Map<string, boolean>();
  for (const { runtime, n } of schedule(plan.runtimes, plan.levels)) {
    lastHeld.set(runtime, await run(runtime, n));
  }
  for (const runtime of plan.runtimes) {
    const listed = plan.levels[runtime];
    if (!listed.up) continue;
    let n = Math.max(...listed.list);
    while (lastHeld.get(runtime)) {
      const next = nextLevel(n);
      if (next === undefined) break;
      // A level takes longer with more calls: one and a half times the last one's wall time.
      const last = levels.filter((l) => l.runtime === runtime).at(-1)?.wallSeconds ?? 120;
      if (performance.now() + 1.5 * last * 1000 > budgetEnd) {
        notes.push(
          `${runtime}: ${n} held; ${next} not run, the run's ${plan.budgetMinutes} min budget would not allow it (\`--budget-minutes\`)`,
        );
        break;
      }
      n = next;
      lastHeld.set(runtime, await run(runtime, n));
    }
  }
  return {
    levels,
    notes,
    callersPerProcess: plan.callersPerProcess,
    talkSeconds: plan.talkSeconds,
    silenceMs: plan.silenceMs,
    staggerMs: plan.staggerMs,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { plan: { type: "string" }, out: { type: "string" } },
  });
  if (!values.plan || !values.out) {
    console.error("usage: in_sandbox.ts --plan PLAN.json --out RAW.json");
    Deno.exit(2);
  }
  const plan: SandboxPlan = JSON.parse(await Deno.readTextFile(values.plan));
  try {
    const raw = await runDensityPlan(plan);
    await Deno.writeTextFile(values.out, JSON.stringify(raw));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  if (descendants(Deno.pid).length > 0) console.error("warning: processes left behind");
  Deno.exit(0);
}
