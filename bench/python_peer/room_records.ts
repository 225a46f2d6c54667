/**
 * What the behaviour scenarios (`room_scenarios.ts`) record: their names, the bounds of their
 * waits, and one record type per scenario, each saying what happened, including "nothing, within
 * the N ms we waited". The verdicts (`room_verdicts.ts`) and the ahead/behind words
 * (`ahead_behind.ts`) read these records alone, so a saved result renders again without running
 * anything.
 *
 * @module
 */
import type { StuckTask } from "./console_run.ts";
import type { AgentRuntime } from "./room_agent.ts";

/** The scenarios, in the order they run. */
export const SCENARIOS = ["bye", "hangup_first", "sigterm", "llm_fails", "talk_over"] as const;
/** One scenario's name. */
export type ScenarioName = typeof SCENARIOS[number];

/** Bounds of the waits (ms); the defaults are what the bench uses. */
export interface ScenarioBounds {
  /** How long the caller waits after the goodbye (or the bye) to be disconnected. */
  silenceMs: number;
  /** How long a job is watched for its end once the caller has hung up. */
  jobEndMs: number;
  /** How long the worker gets to exit after SIGTERM, counted from the goodbye. */
  sigtermExitMs: number;
  /** How long the call is watched after the failing bye. */
  llmFailureMs: number;
}

/** The default bounds. */
export const DEFAULT_BOUNDS: ScenarioBounds = {
  silenceMs: 20_000,
  jobEndMs: 30_000,
  sigtermExitMs: 30_000,
  llmFailureMs: 30_000,
};

/** The goodbye as the caller heard it. */
export interface GoodbyeHeard {
  /** The simulation was asked to synthesize "Goodbye!" (epoch ms), when it was. */
  synthesizedAt?: number;
  /** Found in the caller's recording, in full or not. */
  found: boolean;
  inFull: boolean;
  coverage?: number;
  /** Share of its last 50 ms of voice heard where they belong (`END_MS`; 1 = its end arrived). */
  endHeard?: number;
  correlation?: number;
  /** Epoch ms of its start and end in the recording. */
  startAt?: number;
  endAt?: number;
}

/** What every scenario records. */
export interface ScenarioBase {
  scenario: ScenarioName;
  runtime: AgentRuntime;
  /** Epoch ms at the start. */
  startedAt: number;
  /** Load average (1 min) at the start and the end. */
  load: [number, number];
  /** Fresh rooms it took until an agent came (0 when none came). */
  dispatchTries: number;
  /** Set when the scenario could not run to its end (no dispatch, a step that timed out). */
  error?: string;
  /** End of hello → first reply audio heard, ms. */
  replyLatencyMs?: number;
  /** Everything the agent asked the TTS to say during the call, in order. */
  synthesized: string[];
  /** Everything the simulated STT transcribed during the call, in order. */
  transcribed: string[];
  /** The job's warnings and errors, and its lines about the ending, trimmed (for the why). */
  jobLog: string[];
  /** A crash a process of the worker printed during the scenario (the error and where). */
  crash?: string;
  /**
   * Times the caller said bye until the LLM called `end_session` (a phrase the STT misheard,
   * which a loaded machine causes now and then, is said again; at most `BYE_ATTEMPTS`, `room_call.ts`).
   */
  byeTries?: number;
}

/** `bye`. */
export interface ByeRecord extends ScenarioBase {
  scenario: "bye";
  /** The LLM asked for `end_session` (epoch ms). */
  toolCalledAt?: number;
  /** End of bye → first agent audio heard, ms. */
  byeToFirstAudioMs?: number;
  goodbye?: GoodbyeHeard;
  /** The session said it closed (epoch ms): this project's `session ended`, Python's `session closed`. */
  sessionClosedAt?: number;
  /** This project's end reason and goodbye outcome, from its `session ended` line. */
  endReason?: string;
  /** Where `end_session` was still waiting when the silence bound ran out (Python task dump). */
  stuck: StuckTask[];
  /** The caller's disconnect, when it came within the bound. */
  disconnect?: { reason: string; at: number };
  /** From this epoch ms the caller waited for its disconnect (end of the goodbye, else the bye). */
  silenceFrom: number;
  silenceBoundMs: number;
  /** The room was still listed by the server when the wait ended. */
  roomListed?: boolean;
  /** The job process had ended when the wait ended (or shortly after the disconnect). */
  jobEnded?: boolean;
  /** When the caller had to hang up itself: did the job end within `jobEndMs` after that? */
  afterHangup?: { jobEndedMs?: number; boundMs: number };
}

/** `hangup_first`. */
export interface HangupRecord extends ScenarioBase {
  scenario: "hangup_first";
  hungUpAt?: number;
  /** "Goodbye!" was sent to the TTS after the caller had left. */
  goodbyeAfterHangup?: boolean;
  /** Hang-up → the job process ended, within `boundMs`. */
  jobEndedMs?: number;
  boundMs: number;
  /** This project's `session ended` fields (end reason, goodbye outcome). */
  endReason?: string;
  goodbyeOutcome?: string;
}

/** `sigterm`. */
export interface SigtermRecord extends ScenarioBase {
  scenario: "sigterm";
  signalledAt?: number;
  /** The bye after the signal: the LLM called `end_session`. */
  toolCalled?: boolean;
  goodbye?: GoodbyeHeard;
  disconnect?: { reason: string; at: number };
  /** Worker exit after the signal: code, ms, whether it had to be killed, processes left. */
  exit?: { code: number; afterSignalMs: number; forced: boolean; leftovers: number };
  /** The bound, counted from the goodbye (or the bye when there was none). */
  exitBoundMs: number;
  stuck: StuckTask[];
}

/** `llm_fails`. */
export interface LlmFailureRecord extends ScenarioBase {
  scenario: "llm_fails";
  byeAt?: number;
  /** LLM requests that failed during the window (retries included). */
  failedRequests: number;
  /** What the agent asked the TTS to say after the failing bye, in order. */
  saidAfterFailure: string[];
  /** Stretches of agent audio the caller heard after the failing bye. */
  heardAfterFailure: number;
  /** The call ended during the window (the caller's disconnect). */
  disconnect?: { reason: string; at: number };
  sessionClosedAt?: number;
  windowMs: number;
  /** With the LLM back, the caller said bye again (when still connected). */
  retry?: {
    toolCalled: boolean;
    goodbye?: GoodbyeHeard;
    disconnect?: { reason: string; at: number };
  };
}

/** `talk_over`. */
export interface TalkOverRecord extends ScenarioBase {
  scenario: "talk_over";
  toolCalledAt?: number;
  /** The caller's question: start and end (epoch ms); `cut` when the call ended mid-question. */
  question?: { startAt: number; endAt: number; cut?: boolean };
  goodbye?: GoodbyeHeard;
  /** The STT transcribed the question. */
  questionTranscribed: boolean;
  /** The LLM was asked to answer it. */
  answerRequested: boolean;
  /** What the agent asked the TTS to say after the question started, besides the goodbye. */
  saidAfterQuestion: string[];
  disconnect?: { reason: string; at: number };
  silenceBoundMs: number;
}

/** Any scenario's record. */
export type ScenarioRecord =
  | ByeRecord
  | HangupRecord
  | SigtermRecord
  | LlmFailureRecord
  | TalkOverRecord;
