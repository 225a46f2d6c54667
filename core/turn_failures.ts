/**
 * A failed turn does not end the call; `MAX_FAILED_TURNS` of them in a row do.
 *
 * A "failed turn" is a reply whose LLM or TTS failed past the plugin's
 * retries, an LLM reply the watchdog cut (`core/watchdog.ts`), or the STT
 * failing past its retries (the agent stops hearing; `agent.ts` reopens it).
 * Below the limit the agent says a short fixed apology and keeps listening;
 * when the TTS is what failed the apology cannot be heard, so it is not said,
 * and the log line says so. The count is of user turns: when the apology's own
 * synthesis fails (the TTS is down as well), that is one more line saying the
 * apology was not heard, not one more failed turn. A reply that works resets
 * the count. At the limit
 * the call ends the usual way: agents-js closes the session on that error
 * (`MAX_UNRECOVERABLE_ERRORS` = 0), `onExit` says the goodbye, and the
 * `session ended` line carries `end_reason` `llm_error` / `tts_error` /
 * `stt_error`.
 *
 * The policy sits in the session's `error` event, which agents-js emits just
 * before applying its own policy (`AgentActivity.onError`, then
 * `AgentSession._onError`): an error the agent tolerates is marked
 * `recoverable` there, which is how agents-js itself tells "handled, go on"
 * from "close the session".
 *
 * One line per failed turn, grep-able by `failed_turns`:
 * `the LLM failed: Connection error. (gateway http://...: connection refused);
 * failed turn 1 of 3 in a row; apologizing and listening on`.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";
import { errorMessage, explainModelError, type ModelKind, modelName } from "./model_error.ts";
import { reportCall } from "./call_metrics.ts";
import { LlmStallError } from "./watchdog.ts";

/** Options of {@link FailedTurns}. */
export interface FailedTurnsOptions {
  /** Failed turns in a row that end the call (`MAX_FAILED_TURNS`). */
  maxFailedTurns: number;
  /** What the agent says after a failed turn (`APOLOGY_TEXT`). */
  apology: string;
  /** The Inference gateway, named (and probed after a connection failure) in the log line. */
  gatewayUrl?: string;
}

/** The model error inside a session `error` event, as agents-js types it. */
interface ModelError {
  type: string;
  error: unknown;
  recoverable: boolean;
}

const KINDS: Record<string, ModelKind> = {
  llm_error: "llm",
  realtime_model_error: "llm",
  stt_error: "stt",
  tts_error: "tts",
};

/** One session's failed-turn count and apology (see the module doc). */
export class FailedTurns {
  readonly #session: voice.AgentSession;
  readonly #ending: CallEnding;
  readonly #opts: FailedTurnsOptions;
  #inARow = 0;
  #sttFailures = 0;
  #lastReply?: voice.SpeechHandle;
  // The apology being said, and the failed turn it answers: its own TTS
  // failure belongs to that turn, which is already counted.
  #apology?: { handle: voice.SpeechHandle; turn: number };
  // Replies a failure was already counted for: a reply fails once, however
  // many of its parts report an error.
  readonly #charged = new WeakSet<voice.SpeechHandle>();

  /** Creates the policy for `session`; call {@link attach} to apply it. */
  constructor(session: voice.AgentSession, ending: CallEnding, opts: FailedTurnsOptions) {
    this.#session = session;
    this.#ending = ending;
    this.#opts = opts;
  }

  /** Failed turns in a row so far. */
  get inARow(): number {
    return this.#inARow;
  }

  /**
   * STT failures the agent tolerated (each one ended the STT stream, which the
   * agent reopens while this number grows and the ending has not started).
   */
  get sttFailures(): number {
    return this.#sttFailures;
  }

  /** Subscribes to the session; returns the unsubscribe function. */
  attach(): () => void {
    const session = this.#session;
    session.on(voice.AgentSessionEventTypes.Error, this.#onError);
    session.on(voice.AgentSessionEventTypes.SpeechCreated, this.#onSpeech);
    return () => {
      session.off(voice.AgentSessionEventTypes.Error, this.#onError);
      session.off(voice.AgentSessionEventTypes.SpeechCreated, this.#onSpeech);
    };
  }

  #onSpeech = (ev: voice.SpeechCreatedEvent): void => {
    if (ev.source === "say") return; // the apology and the goodbye are not turns
    const reply = ev.speechHandle;
    this.#lastReply = reply;
    reply.addDoneCallback(() => {
      // A preemptive reply that was never scheduled is not a turn either.
      if (this.#charged.has(reply) || !reply.scheduled || this.#inARow === 0) return;
      log().info(
        { failed_turns: 0, failed_before: this.#inARow },
        `a turn worked; the failed-turn count (${this.#inARow}) is reset`,
      );
      this.#inARow = 0;
    });
  };

  #onError = (ev: voice.ErrorEvent): void => {
    const error = ev.error as ModelError | undefined;
    const kind = error ? KINDS[error.type] : undefined;
    if (!error || !kind || error.recoverable) return; // retries in progress, or not a model
    // The ending handles its own failures (the goodbye's TTS), and agents-js
    // ignores errors once it is closing.
    if (this.#ending.isStarted) return;
    const reply = kind === "stt" || this.#lastReply?.done() ? undefined : this.#lastReply;
    const saying = this.#apology;
    if (!reply && kind === "tts" && saying && !saying.handle.done()) {
      // The count is of user turns that failed: the apology is not a turn.
      error.recoverable = true;
      log().warn(
        { model: kind, apology_failed: saying.turn, error: errorMessage(error.error) },
        `the apology for failed turn ${saying.turn} was not heard: the TTS failed too`,
      );
      return;
    }
    if (reply && this.#charged.has(reply)) {
      error.recoverable = true;
      log().debug({ model: kind }, "another failure in a turn already counted as failed");
      return;
    }
    if (reply) this.#charged.add(reply);
    const inARow = ++this.#inARow;
    const max = this.#opts.maxFailedTurns;
    if (kind === "stt") this.#sttFailures++;
    const last = inARow >= max;
    let apology: "said" | "not_heard" | "none";
    if (last) {
      // Left unmarked: agents-js closes the session on it, onExit says goodbye.
      this.#ending.failure = {
        model: kind,
        cause: `the ${modelName(kind)} failed: ${errorMessage(error.error)}`,
      };
      this.#ending.markStarted();
      apology = "none";
    } else {
      error.recoverable = true; // handled here: agents-js must not close the session
      apology = kind === "tts" ? "not_heard" : "said";
      if (apology === "said") this.#apologize(inARow);
    }
    reportCall({
      kind: "failed_turn",
      failure: error.error instanceof LlmStallError ? "stall" : kind,
      apology,
    });
    void this.#explain(kind, error.error, inARow, apology);
  };

  #apologize(turn: number): void {
    try {
      const handle = this.#session.say(this.#opts.apology, { allowInterruptions: true });
      this.#apology = { handle, turn };
    } catch (error) {
      // The session is closing after all: the goodbye takes over.
      log().debug({ error: String(error) }, "no apology: the session is closing");
    }
  }

  async #explain(
    kind: ModelKind,
    error: unknown,
    inARow: number,
    apology: "said" | "not_heard" | "none",
  ): Promise<void> {
    const cause = await explainModelError(kind, error, this.#opts.gatewayUrl);
    const max = this.#opts.maxFailedTurns;
    const then = apology === "none"
      ? "ending the call"
      : apology === "said"
      ? "apologizing and listening on"
      : "the apology cannot be heard (the TTS is what failed); listening on";
    if (apology === "none" && this.#ending.failure) this.#ending.failure.cause = cause;
    log().warn(
      { model: kind, failed_turns: inARow, max_failed_turns: max, apology, error: cause },
      `${cause}; failed turn ${inARow} of ${max} in a row; ${then}`,
    );
    this.#ending.report({
      kind: "failed_turn",
      model: kind,
      cause,
      failedTurns: inARow,
      maxFailedTurns: max,
      apology,
    });
  }
}
