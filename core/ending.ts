/**
 * How a call ends: who asked, whether anyone is still listening, how the
 * goodbye went, and the reason the one `session ended` log line gives (the
 * goodbye is said by `say_bounded.ts`, the line logged by `job_end.ts`).
 *
 * The agent, the `end_session` tool and the room watcher share one
 * {@link CallEnding} per session, so "end twice" is harmless and "the user hung
 * up" reaches `onExit` before it decides whether to say goodbye.
 *
 * @module
 */
import type { voice } from "@livekit/agents";
import type { ReportSink } from "./console_report.ts";

/**
 * Why a session ended, as the grep-able `end_reason` of the final log line.
 *
 * - `end_session`: the LLM called the tool (the user asked to stop);
 * - `participant_disconnected`: the user hung up;
 * - `room_disconnected`: the job lost its connection to the LiveKit server for good;
 * - `duplicate_agent`: another agent of the same name was in the call and this one left it to
 *   that one (`core/one_agent.ts`);
 * - `sigint` / `sigterm`: the process was signalled (console: Ctrl+C in the
 *   built-in console, `lk`'s stop, or an operator);
 * - `llm_error` / `tts_error` / `stt_error`: `MAX_FAILED_TURNS` turns in a
 *   row failed (a model failed past its retries, or the LLM stalled past its
 *   bound); the last failure's model names the reason;
 * - anything else is the session's own close reason (`user_initiated`,
 *   `job_shutdown`, ...).
 */
export type EndReason =
  | "end_session"
  | "participant_disconnected"
  | "room_disconnected"
  | "duplicate_agent"
  | "sigint"
  | "sigterm"
  | "llm_error"
  | "tts_error"
  | "stt_error"
  | "job_shutdown"
  | "user_initiated"
  | "error"
  | (string & Record<never, never>);

/**
 * How the goodbye went, for the final log line: `played` in full, `partial`
 * (some audio played, then the TTS failed or the bound passed), `failed` (the
 * TTS produced nothing), `timed_out` (nothing played within the bound),
 * `skipped` (the user had hung up) or `none` (the session closed before
 * `onExit` ran). A forced ending logs what was known at that moment:
 * `queued` (asked for, waiting behind the speech still playing) or
 * `in_progress` (its audio had started playing).
 */
export type GoodbyeOutcome =
  | "played"
  | "partial"
  | "failed"
  | "timed_out"
  | "skipped"
  | "none"
  | "queued"
  | "in_progress";

/** The failure that ended the call, as `core/turn_failures.ts` saw it. */
export interface EndingFailure {
  /** `llm`, `stt` or `tts`. */
  model: string;
  /** One line: the model, the plugin's words, the gateway (see `core/model_error.ts`). */
  cause: string;
}

/** The error of a session `Close` event, as agents-js types it (LLMError, TTSError, STTError...). */
export interface CloseError {
  /** `llm_error`, `tts_error`, `stt_error`, `realtime_model_error`. */
  type?: string;
  /** The underlying error. */
  error?: unknown;
}

/** State of one session's ending, shared by the agent, its tool and the job glue. */
export class CallEnding {
  #requestedBy?: EndReason;
  #userGone = false;
  #roomLost = false;
  #yielded = false;
  #goodbye?: voice.SpeechHandle;
  #goodbyeOutcome: GoodbyeOutcome = "none";
  #signals: string[] = [];
  #started = Promise.withResolvers<void>();
  #isStarted = false;
  /** True once the `session ended` line was logged (see `logSessionEnded` in `core/job_end.ts`). */
  endLogged = false;
  /** Where reports for a console go (`core/console_report.ts`); a no-op elsewhere. */
  report: ReportSink = () => {};
  /** The failure that ended the call, when `MAX_FAILED_TURNS` was reached. */
  failure?: EndingFailure;

  /**
   * Resolves when the ending starts: the first {@link request}, or
   * {@link markStarted} (`onExit` running on a close nobody requested, such as
   * an unrecoverable model error). The job glue arms its close bound on it.
   */
  get started(): Promise<void> {
    return this.#started.promise;
  }

  /** True once the ending has started. */
  get isStarted(): boolean {
    return this.#isStarted;
  }

  /** Marks the ending as started (idempotent). */
  markStarted(): void {
    if (this.#isStarted) return;
    this.#isStarted = true;
    this.#started.resolve();
  }

  /** How the goodbye went (see {@link GoodbyeOutcome}). */
  get goodbyeOutcome(): GoodbyeOutcome {
    return this.#goodbyeOutcome;
  }

  /** Records how the goodbye went. */
  setGoodbyeOutcome(outcome: GoodbyeOutcome): void {
    this.#goodbyeOutcome = outcome;
    if (outcome === "played" || outcome === "partial") this.goodbyeEndedAt ??= Date.now();
    if (outcome !== "queued" && outcome !== "in_progress") this.#goodbyeOver.resolve(outcome);
  }

  readonly #goodbyeOver = Promise.withResolvers<GoodbyeOutcome>();

  /** Settles once the goodbye is over, however it went (it never settles with `none`). */
  get goodbyeOver(): Promise<GoodbyeOutcome> {
    return this.#goodbyeOver.promise;
  }

  /**
   * True once this job asked for the room to be deleted (the agent hangs up): the job's own
   * room then closes with `ROOM_DELETED`, which is not a lost link.
   */
  hangingUp = false;

  /** When the goodbye's playout ended (epoch ms), once it was heard in full or in part. */
  goodbyeEndedAt?: number;

  /** Signals received while this session lived, in order (`SIGINT`, `SIGTERM`). */
  get signals(): readonly string[] {
    return this.#signals;
  }

  /** Records a signal; the first one is also a request to end (`sigint` / `sigterm`). */
  noteSignal(signal: "SIGINT" | "SIGTERM"): void {
    this.#signals.push(signal);
    this.request(signal === "SIGINT" ? "sigint" : "sigterm");
  }

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
    this.markStarted();
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

  /**
   * The job lost its room (the LiveKit server went away, or never came back from a reconnect):
   * like a hang-up, nobody can hear anything more, so no goodbye is synthesized and one already
   * playing is cut; the end reason is `room_disconnected`.
   */
  markRoomLost(): void {
    this.#roomLost = true;
    this.markUserGone();
  }

  /**
   * Another agent serves this call (`core/one_agent.ts`): this one leaves without a word (as
   * after a hang-up, nothing more is said and a goodbye playing is cut) and ends nothing for the
   * caller; the end reason is `duplicate_agent`.
   */
  markYielded(): void {
    this.#yielded = true;
    this.markUserGone();
  }

  /** True once the job lost its room (see {@link markRoomLost}). */
  get roomLost(): boolean {
    return this.#roomLost;
  }

  /** Remembers the goodbye's speech so a hang-up during it can cut it short. */
  trackGoodbye(handle: voice.SpeechHandle): void {
    this.#goodbye = handle;
  }

  /**
   * The reason for the final log line: whoever asked first (the tool, a
   * hang-up, a signal); otherwise the failing model's error type when the
   * session closed on an error; otherwise the session's own close reason.
   */
  endReason(closeReason: string, error?: CloseError | null): EndReason {
    if (this.#yielded) return "duplicate_agent";
    if (this.#roomLost) return "room_disconnected";
    if (this.#userGone) return "participant_disconnected";
    if (this.#requestedBy !== undefined) return this.#requestedBy;
    if (closeReason === "error" && typeof error?.type === "string") {
      return error.type === "realtime_model_error" ? "llm_error" : error.type;
    }
    return closeReason;
  }
}
