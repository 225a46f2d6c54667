/**
 * What one level of a density run records, as measured: per call what its caller saw, and for
 * the level the worker tree's CPU time and memory, the callers' CPU time, the server's jobs and
 * rooms, and the machine's load. The figures (`figures.ts`) and verdicts (`verdict.ts`) are
 * computed from these alone, so a saved result renders again without running anything.
 *
 * @module
 */
import type { RuntimeName } from "./plan.ts";

/** One call, from its caller's side. */
export interface CallRecord {
  room: string;
  /** An agent joined, published and listened within the bound. */
  answered: boolean;
  /** Caller joined → the agent's audio track subscribed, ms. */
  agentJoinMs?: number;
  /** End of each thing the caller said (hello, then the questions) → first agent audio, ms. */
  replyLatencyMs: number[];
  /** Questions asked while talking. */
  talkTurns: number;
  /** The caller got to say bye. */
  byeSaid: boolean;
  /** Times it said bye until the goodbye came (a misheard bye is said again). */
  byeTries?: number;
  /** "Goodbye!" heard in full at the caller (`findHeard`/`inFull`). */
  goodbyeInFull: boolean;
  /** End of bye → start of the goodbye heard, ms. */
  byeToGoodbyeMs?: number;
  /** End of the goodbye heard → the caller disconnected by the server, ms. */
  goodbyeEndToGoneMs?: number;
  /** How the caller was disconnected (`ROOM_DELETED`...); absent when it hung up itself. */
  disconnectReason?: string;
  /** Joined → disconnected or hung up, ms. */
  durationMs?: number;
  error?: string;
}

/** Memory of the worker's process tree, KiB. */
export interface TreeMemory {
  rssKiB: number;
  pssKiB: number;
  processes: number;
}

/** CPU time spent over a window, s. */
export interface CpuWindow {
  /** The window's length, s. */
  seconds: number;
  /** The worker tree: main, inference, job or host processes, reaped children included. */
  treeCpuS: number;
  /** Every caller process. */
  callersCpuS: number;
}

/** One level of one runtime, as measured. */
export interface LevelSamples {
  runtime: RuntimeName;
  /** Concurrent calls. */
  n: number;
  /** `/proc/loadavg` at the level's start and end. */
  load: { start: number[]; end: number[] };
  /** The worker settled before its calls. */
  idle: TreeMemory;
  /** Highest tree RSS and PSS read during the calls (each its own peak; sampled every second). */
  peak: TreeMemory;
  /** While every call talked: from all calls in (each heard its hello answered) for the stretch. */
  talk: CpuWindow;
  /** The whole level: callers' first join to the jobs' end (bounded). */
  whole: CpuWindow;
  calls: CallRecord[];
  /** Caller processes the callers were spread over. */
  callerProcesses: number;
  /** The level's rooms the server still held once its calls were over (after a bounded wait). */
  roomsLeft: number;
  /** Jobs the server assigned for the level's rooms, and of those it saw end. */
  jobsAssigned: number;
  jobsEnded: number;
  /** The ended jobs by the status the server logged (`JS_SUCCESS`, `JS_FAILED (why)`...). */
  jobStatuses?: Record<string, number>;
  /**
   * The agent's "VAD inference is slower than realtime" warnings in the level's rooms (Silero's,
   * in either framework), and the largest delay one reported, ms: a VAD that falls behind hears
   * the end of the caller's speech late, or, far enough behind, not in time for a reply.
   */
  vadLate?: { warnings: number; maxDelayMs: number };
  /** The level's wall time, worker start to worker ended, s. */
  wallSeconds?: number;
  /** Something that stopped the level before its calls (the worker did not start...). */
  error?: string;
}
