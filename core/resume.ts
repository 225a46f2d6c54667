/**
 * A call taken over from a lost agent: how the replacement knows it is one, and what it says.
 *
 * When an agent's process dies mid-call (a worker killed, a machine gone), livekit-server keeps
 * the dead agent in the room until it times it out, then reports it gone (`participant_left`
 * with `CONNECTION_TIMEOUT`). The open-source server never starts another job by itself (the
 * dispatch `restart_policy` is LiveKit Cloud only), so the call keeper (`keeper/`) dispatches a
 * replacement explicitly, with {@link resumeMetadata} as the job's metadata. The replacement
 * starts with an empty chat history (the old process took it along), so it must not act as if
 * the call were new: it says {@link RESUME_TEXT} at once, instead of waiting in silence for a
 * caller who was mid-sentence or waiting for an answer.
 *
 * The metadata is the job's, set by whoever dispatched it: an application's own dispatch
 * metadata (anything that is not this JSON shape) is ignored here.
 *
 * @module
 */
import type { voice } from "@livekit/agents";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";

/** The key of the JSON object in a replacement job's metadata. */
export const RESUME_KEY = "exit_message_resume";

/** What the replacement says first: it lost the conversation, and asks the caller to go on. */
export const RESUME_TEXT = "Sorry, I lost the thread for a moment. Could you say that again?";

/** What a replacement job is told about the agent it replaces. */
export interface ResumeInfo {
  /** Identity of the agent participant that was lost. */
  lostIdentity: string;
  /** Epoch ms when the server reported it gone. */
  lostAt: number;
  /** The server's disconnect reason for it (e.g. `CONNECTION_TIMEOUT`). */
  reason: string;
}

/** The job metadata that marks a dispatch as a replacement for a lost agent. */
export function resumeMetadata(info: ResumeInfo): string {
  return JSON.stringify({ [RESUME_KEY]: info });
}

/**
 * Reads {@link resumeMetadata} back from a job's metadata; `undefined` for a new call, for
 * metadata of another shape, and for anything that is not JSON.
 */
export function readResume(metadata: string | undefined): ResumeInfo | undefined {
  if (!metadata) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const info = (parsed as Record<string, unknown>)[RESUME_KEY];
  if (typeof info !== "object" || info === null) return undefined;
  const { lostIdentity, lostAt, reason } = info as Record<string, unknown>;
  if (typeof lostIdentity !== "string" || typeof lostAt !== "number") return undefined;
  return { lostIdentity, lostAt, reason: typeof reason === "string" ? reason : "unknown" };
}

/**
 * Starts a replacement's side of the call: one log line that says whom it replaces and how long
 * the caller was without an agent, then {@link RESUME_TEXT} (kept in the chat history, so the
 * LLM knows the earlier turns are gone). Nothing is said once the call is ending.
 */
export function greetResumed(
  session: Pick<voice.AgentSession, "say">,
  ending: Pick<CallEnding, "isStarted">,
  info: ResumeInfo,
  now = Date.now(),
): voice.SpeechHandle | undefined {
  log().info(
    { resumes: info.lostIdentity, lost_reason: info.reason, since_lost_ms: now - info.lostAt },
    "taking over a call whose agent was lost; its conversation is gone",
  );
  if (ending.isStarted) return undefined;
  return session.say(RESUME_TEXT);
}
