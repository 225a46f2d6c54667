/**
 * The side-by-side comparison's result, as the runs record it and the JSON file keeps it: every
 * figure raw, so a saved result renders again (`--render`) without running anything.
 *
 * @module
 */
import type { ConsoleRun } from "../console_run.ts";
import type { MachineInfo } from "../proc.ts";
import type { WorkerRun } from "../worker_run.ts";
import type { PythonConsoleRun } from "./console_run.ts";
import type { AgentRuntime } from "./room_agent.ts";
import type { RoomPerfRun } from "./room_perf.ts";
import type { ScenarioRecord } from "./room_records.ts";
import type { PythonSessionRun } from "./session_run.ts";
import type { PythonWorkerRun } from "./worker_run.ts";

/** Everything measured, as the runs recorded it. */
export interface ComparisonRaw {
  /** Idle workers against the worker-endpoint stand-in, run i of each runtime interleaved. */
  worker: { deno: WorkerRun[]; node: WorkerRun[]; python: PythonWorkerRun[] };
  /** Real-room performance runs, Deno and Python interleaved (pair i = run i of each). */
  room: RoomPerfRun[];
  /** Real-room behaviour scenarios. */
  behaviour: ScenarioRecord[];
  /** The recipe's exit flow through livekit-agents' test utility (no audio, no room). */
  session: PythonSessionRun[];
  /** The exit flow through the console protocol (optional part). */
  console: { deno: ConsoleRun[]; python: PythonConsoleRun[] };
}

/** The whole result, as written to JSON. */
export interface ComparisonResult {
  date: string;
  command: string;
  machine: MachineInfo;
  versions: {
    deno: string;
    node?: string;
    python: string;
    pythonPackages: Record<string, string>;
    nodePackages?: Record<string, string>;
  };
  /** The simulation's fixed model latencies. */
  modelLatency: { llmFirstTokenMs: number; ttsFirstAudioMs: number };
  /** `TURN_DETECTION` of this project's agent in the room ("" = its default). */
  turnDetection: string;
  loadavg: { start: number[]; end: number[] };
  /** Interleaved runs per figure. */
  runs: number;
  /** Concurrent calls per real-room performance run. */
  calls: number;
  /** Runtimes of the behaviour table. */
  runtimes: AgentRuntime[];
  /** Parts that did not run, and why. */
  skipped: string[];
  raw: ComparisonRaw;
}
