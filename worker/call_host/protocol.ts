/**
 * What the worker and a call host say to each other over the host's IPC channel. Every message
 * agents-js would exchange with a job process travels inside an envelope naming its channel (one
 * channel per agents-js executor, i.e. per would-be job process); the rest is the host's own.
 *
 * @module
 */

/** agents-js's job-process IPC message (`ipc/message.ts`), relayed as is. */
export interface AgentsMessage {
  /** agents-js's message kind (`initializeRequest`, `startJobRequest`, `pingRequest`, ...). */
  case: string;
  /** Its payload. */
  value?: unknown;
}

/** Worker to host. */
export type ToHost =
  /** An agents-js message for the job side of channel `ch` (opens the channel on first use). */
  | { ch: number; msg: AgentsMessage }
  /** End channel `ch` now, whatever its job is doing (agents-js asked to kill its process). */
  | { ch: number; kill: true }
  /** Take no new channel; exit once the last one has ended. */
  | { retire: true };

/** Host to worker. */
export type FromHost =
  /** An agents-js message from the job side of channel `ch`. */
  | { ch: number; msg: AgentsMessage }
  /**
   * Channel `ch` is over: for agents-js, its process exited with `code` (or was killed,
   * `signal`). `served` when it ran a call.
   */
  | { ch: number; closed: { code: number | null; signal?: string; served: boolean } }
  /** The host can take no more calls (a call was abandoned in it, or it served its share). */
  | { retiring: string };

/** True for a message shaped like an envelope of this protocol. */
export function isEnvelope(msg: unknown): msg is Record<string, unknown> {
  return typeof msg === "object" && msg !== null;
}
