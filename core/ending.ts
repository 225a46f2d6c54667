/**
 * How a call ends: who asked, whether anyone is still listening, and the one
 * log line that says why the session ended.
 *
 * The agent, the `end_session` tool and the room watcher share one
 * {@link CallEnding} per session, so "end twice" is harmless and "the user hung
 * up" reaches `onExit` before it decides whether to say goodbye.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import { log } from "./log.ts";

/**
 * Why a session ended, as the grep-able `end_reason` of the final log line.
 * `end_session` means the LLM called the tool; the others come from the
 * session's own close reason.
 */
export type EndReason =
  | "end_session"
  | "participant_disconnected"
  | "job_shutdown"
  | "user_initiated"
  | "error"
  | (string & Record<never, never>);

/** State of one session's ending, shared by the agent, its tool and the job glue. */
export class CallEnding {
  #requestedBy?: EndReason;
  #userGone = false;
  #goodbye?: voice.SpeechHandle;

  /** Who first asked to end, if anyone did. */
  get requestedBy(): EndReason | undefined {
    return this.#requestedBy;
  }

  /** True once nobody remains to hear the agent (the user hung up). */
  get userGone(): boolean {
    return this.#userGone;
  }

  /**
   * Records a request to end. Returns true for the first request only, so the
   * caller knows whether it started the ending or joined one in progress.
   */
  request(by: EndReason): boolean {
    if (this.#requestedBy !== undefined) return false;
    this.#requestedBy = by;
    return true;
  }

  /**
   * The user left: nothing more is said, and a goodbye already playing is cut
   * short because nobody hears it.
   */
  markUserGone(): void {
    this.#userGone = true;
    this.request("participant_disconnected");
    if (this.#goodbye && !this.#goodbye.done()) this.#goodbye.interrupt(true);
  }

  /** Remembers the goodbye's speech so a hang-up during it can cut it short. */
  trackGoodbye(handle: voice.SpeechHandle): void {
    this.#goodbye = handle;
  }

  /**
   * The reason for the final log line: the tool if it started the end,
   * otherwise the session's own close reason.
   */
  endReason(closeReason: string): EndReason {
    if (this.#userGone) return "participant_disconnected";
    return this.#requestedBy ?? closeReason;
  }
}

/** Resolves `promise`, or rejects when `ms` passes; the timer never outlives the race. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The value {@link withTimeout} resolves to when the bound passed first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Says `text` and waits for its playout, at most `timeoutMs`. On timeout the
 * speech is interrupted (which releases the audio output) and a warning names
 * what stalled: synthesis (no audio ever played) or playout (audio played but
 * the output never reported it finished).
 */
export async function sayBounded(
  session: voice.AgentSession,
  ending: CallEnding,
  text: string,
  timeoutMs: number,
): Promise<"played" | "timed_out" | "skipped"> {
  const logger = log();
  if (ending.userGone) {
    logger.info({ end_reason: "participant_disconnected" }, "user hung up; skipping the goodbye");
    return "skipped";
  }
  let spoke = false;
  const onState = (ev: voice.AgentStateChangedEvent) => {
    if (ev.newState === "speaking") spoke = true;
  };
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  const started = performance.now();
  try {
    const handle = session.say(text, { allowInterruptions: false });
    ending.trackGoodbye(handle);
    const result = await withTimeout(handle.waitForPlayout(), timeoutMs);
    if (result !== TIMED_OUT) {
      if (handle.interrupted) return ending.userGone ? "skipped" : "played";
      logger.debug({ ms: Math.round(performance.now() - started) }, "goodbye played");
      return "played";
    }
    const stalled = spoke
      ? "audio playout (the output never reported the goodbye finished)"
      : "speech synthesis (no goodbye audio was produced)";
    logger.warn(
      { stalled: spoke ? "playout" : "tts", timeout_ms: timeoutMs },
      `goodbye did not finish within ${timeoutMs} ms: ${stalled}; closing anyway`,
    );
    handle.interrupt(true);
    return "timed_out";
  } finally {
    session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  }
}
