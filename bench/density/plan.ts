/**
 * What a density run measures: the runtimes (this project with its defaults, the same with one
 * call per process as it was before call hosts, LiveKit's Python recipe), the levels of
 * concurrent calls for each, how long the calls talk, and the command line that says so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { AgentRuntime } from "../python_peer/room_agent.ts";
import type { PythonPeer } from "../python_peer/setup.ts";

/** The runtimes a density run can compare. */
export const RUNTIMES = ["deno", "before", "recipe"] as const;
/** One of {@link RUNTIMES}. */
export type RuntimeName = typeof RUNTIMES[number];

/** How one runtime is started and judged. */
export interface RuntimeSpec {
  name: RuntimeName;
  /** Its label in the tables (short: the tables keep within 120 columns). */
  label: string;
  /** What it is, in words, for the legend. */
  what: string;
  /** Which worker `RoomAgent` starts. */
  agent: AgentRuntime;
  /** Extra environment of the worker. */
  env: Record<string, string>;
  /**
   * Whether its agent ends its calls (deletes the room after the goodbye). The recipe does not
   * (its `end_session` deadlocks, docs/comparison.md): its levels are judged without "every
   * call ended by the agent, every room deleted", and its callers hang up after the goodbye.
   */
  endsCalls: boolean;
  /** Levels run unless `--levels` says otherwise. */
  defaultLevels: Levels;
}

/** Levels of concurrent calls: these, then (with `up`) more while the last one holds. */
export interface Levels {
  list: number[];
  /** Go on past the list while levels hold: +{@link UP_STEP} calls each, up to {@link MAX_N}. */
  up: boolean;
}

/** The step of the levels past the list. */
export const UP_STEP = 4;
/** No level goes past this many calls. */
export const MAX_N = 40;

/** The runtimes' specs. */
export const SPECS: Record<RuntimeName, RuntimeSpec> = {
  deno: {
    name: "deno",
    label: "this project",
    what:
      "this project under Deno, its defaults (8 calls per job process, local end-of-turn model)",
    agent: "deno",
    env: {},
    endsCalls: true,
    defaultLevels: { list: [1, 2, 4, 6, 8], up: true },
  },
  before: {
    name: "before",
    label: "1 per proc",
    what: "this project with `CALLS_PER_PROCESS=1` (a process per call, as before call hosts)",
    agent: "deno",
    env: { CALLS_PER_PROCESS: "1" },
    endsCalls: true,
    defaultLevels: { list: [1, 6], up: false },
  },
  recipe: {
    name: "recipe",
    label: "recipe",
    what: "LiveKit's Python recipe, its defaults (livekit-agents 1.8.9, its local turn detector)",
    agent: "python",
    env: {},
    endsCalls: false,
    defaultLevels: { list: [1, 2, 4, 6], up: false },
  },
};

/** Parses `1,2,4,8+` (a trailing `+`: then up while it holds). */
export function parseLevels(spec: string): Levels {
  const t = spec.trim();
  const up = t.endsWith("+");
  const list = t.replace(/\+$/, "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_N)) {
    throw new Error(
      `--levels takes whole numbers 1-${MAX_N}, comma-separated, optionally ending in + (got "${spec}")`,
    );
  }
  return { list: [...new Set(list)].sort((a, b) => a - b), up };
}

/** Levels as the command line writes them. */
export function formatLevels(l: Levels): string {
  return `${l.list.join(",")}${l.up ? "+" : ""}`;
}

/** The next level past `n` when going up, or undefined at the top. */
export function nextLevel(n: number): number | undefined {
  const next = n + UP_STEP;
  return next <= MAX_N ? next : undefined;
}

/** The options of a density run. */
export interface DensityOptions {
  runtimes: RuntimeName[];
  /** Per runtime: `--levels` when given, else its default. */
  levels: Record<RuntimeName, Levels>;
  /** How long every call talks once all of them are in, s. */
  talkSeconds: number;
  /** Callers one caller process holds. */
  callersPerProcess: number;
  /** The memory a worker is given, for the capacity by memory, MiB. */
  memoryBudgetMiB: number;
  /** How long a caller waits for its disconnect after the goodbye, ms. */
  silenceMs: number;
  /** Between one call's join and the next one's, ms (0: all at once). */
  staggerMs: number;
  /** No level past the listed ones starts once the run may not end within this, min. */
  budgetMinutes: number;
  docs: boolean;
  render?: string;
}

/** Default talking stretch, s. */
export const DEFAULT_TALK_SECONDS = 30;
/**
 * Default time budget of a run, min: the levels past the listed ones stop before it runs out
 * (the listed ones take about 17 min).
 */
export const DEFAULT_BUDGET_MINUTES = 25;
/** Default memory budget of a worker: 4 GiB. */
export const DEFAULT_MEMORY_GIB = 4;

/** Parses `deno task bench --only density` flags (`--only` itself is ignored). */
export function parseDensityArgs(args: string[]): DensityOptions {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      runtimes: { type: "string", default: "deno,before,recipe" },
      levels: { type: "string" },
      "talk-seconds": { type: "string", default: String(DEFAULT_TALK_SECONDS) },
      "callers-per-process": { type: "string", default: "4" },
      "memory-gib": { type: "string", default: String(DEFAULT_MEMORY_GIB) },
      "silence-s": { type: "string", default: "10" },
      "stagger-ms": { type: "string", default: "0" },
      "budget-minutes": { type: "string", default: String(DEFAULT_BUDGET_MINUTES) },
      "no-docs": { type: "boolean", default: false },
      render: { type: "string" },
    },
  });
  const runtimes = values.runtimes.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = runtimes.filter((r) => !(RUNTIMES as readonly string[]).includes(r));
  if (bad.length || runtimes.length === 0) {
    throw new Error(`unknown runtime ${bad.join(", ")}; runtimes: ${RUNTIMES.join(", ")}`);
  }
  const positive = (name: string, v: string, min = 1) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} takes a number ≥ ${min}`);
    return n;
  };
  const given = values.levels === undefined ? undefined : parseLevels(values.levels);
  const levels = Object.fromEntries(
    RUNTIMES.map((r) => [r, given ?? SPECS[r].defaultLevels]),
  ) as Record<RuntimeName, Levels>;
  return {
    runtimes: [...new Set(runtimes)] as RuntimeName[],
    levels,
    talkSeconds: positive("talk-seconds", values["talk-seconds"], 5),
    callersPerProcess: Math.round(positive("callers-per-process", values["callers-per-process"])),
    memoryBudgetMiB: 1024 * positive("memory-gib", values["memory-gib"], 0.5),
    silenceMs: 1000 * positive("silence-s", values["silence-s"]),
    staggerMs: positive("stagger-ms", values["stagger-ms"], 0),
    budgetMinutes: positive("budget-minutes", values["budget-minutes"]),
    docs: !values["no-docs"],
    render: values.render,
  };
}

/** What the bench hands the run inside the sandbox. */
export interface SandboxPlan {
  runtimes: RuntimeName[];
  levels: Record<RuntimeName, Levels>;
  talkSeconds: number;
  callersPerProcess: number;
  silenceMs: number;
  staggerMs: number;
  budgetMinutes: number;
  python?: PythonPeer;
}

/**
 * The order the levels run in: level by level, each runtime that has the level in turn (so the
 * machine's load drifts over every runtime alike), the listed levels first.
 */
export function schedule(
  runtimes: RuntimeName[],
  levels: Record<RuntimeName, Levels>,
): { runtime: RuntimeName; n: number }[] {
  const all = [...new Set(runtimes.flatMap((r) => levels[r].list))].sort((a, b) => a - b);
  return all.flatMap((n) =>
    runtimes.filter((r) => levels[r].list.includes(n)).map((runtime) => ({ runtime, n }))
  );
}
