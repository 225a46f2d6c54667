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
import { SPEECH_DRAIN_TIMEOUT_MS } from "./bounds.ts";
import type { ReportSink } from "./console_report.ts";
import { log } from "./log.ts";

/**
 * Why a session ended, as the grep-able `end_reason` of the final log line.
 *
 * - `end_session`: the LLM called the tool (the user asked to stop);
 * - `participant_disconnected`: the user hung up;
 * - `room_disconnected`: the job lost its connection to the LiveKit server for good;
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
  #goodbye?: voice.SpeechHandle;
  #goodbyeOutcome: GoodbyeOutcome = "none";
  #signals: string[] = [];
  #started = Promise.withResolvers<void>();
  #isStarted = false;
  /** True once the `session ended` line was logged (see `logSessionEnded` in job.ts). */
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
  }

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
    if (this.#roomLost) return "room_disconnected";
    if (this.#userGone) return "participant_disconnected";
    if (this.#requestedBy !== undefined) return this.#requestedBy;
    if (closeReason === "error" && typeof error?.type === "string") {
      return error.type === "realtime_model_error" ? "llm_error" : error.type;
    }
    return closeReason;
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

/** Options of {@link sayBounded}. */
export interface SayBoundedOptions {
  /**
   * The speech playing when the goodbye was asked for (the LLM's own words in
   * the `end_session` turn). The goodbye queues behind it, so its clock starts
   * only once that speech is done; that speech gets `drainMs` to finish.
   */
  before?: voice.SpeechHandle;
  /** Bound on `before` (default `SPEECH_DRAIN_TIMEOUT_MS`), after which it is interrupted. */
  drainMs?: number;
}

/**
 * Lets `before` finish playing, at most `drainMs`; then interrupts it (which
 * releases an audio output that never reports playout finished) and says so.
 */
async function drainBefore(before: voice.SpeechHandle, drainMs: number): Promise<void> {
  if (before.done()) return;
  // addDoneCallback, not waitForPlayout: this runs in the close that the
  // end_session tool started, i.e. in that tool's context, where waiting for
  // its own turn's playout throws SpeechHandleCircularWaitError.
  const done = new Promise<void>((resolve) => before.addDoneCallback(() => resolve()));
  if ((await withTimeout(done, drainMs)) !== TIMED_OUT) return;
  log().warn(
    { stalled: "speech_drain", timeout_ms: drainMs },
    `what the agent was saying did not finish playing within ${drainMs} ms; ` +
      "interrupting it so the goodbye can start",
  );
  before.interrupt(true);
}

/**
 * Says `text` and waits for its playout, at most `timeoutMs` from when it
 * gets its turn, and records how it went on `ending`. On timeout the speech is interrupted (which releases
 * the audio output) and a warning names what stalled: synthesis (no audio
 * ever played) or playout (audio played but the output never reported it
 * finished). A TTS that fails is named too; whatever audio it produced before
 * failing is still played (a partial goodbye is better than none), and the
 * close goes on either way.
 */
export async function sayBounded(
  session: voice.AgentSession,
  ending: CallEnding,
  text: string,
  timeoutMs: number,
  options: SayBoundedOptions = {},
): Promise<GoodbyeOutcome> {
  const logger = log();
  ending.markStarted();
  if (ending.userGone) {
    logger.info({ end_reason: "participant_disconnected" }, "user hung up; skipping the goodbye");
    ending.setGoodbyeOutcome("skipped");
    return "skipped";
  }
  let spoke = false;
  let attempting = false;
  const onState = (ev: voice.AgentStateChangedEvent) => {
    if (ev.newState !== "speaking") return;
    spoke = true;
    // What a forced ending logs if it comes now: the goodbye is audible.
    if (attempting) ending.setGoodbyeOutcome("in_progress");
  };
  // The TTS reports its failures as events, not through the speech handle,
  // which simply finishes (with whatever audio there was). Retried errors
  // count too: agents-js's TTS retry does not resend the text, so after one
  // the goodbye is silent or cut.
  let ttsError: string | undefined;
  const onTtsError = (ev: { error?: unknown }) => {
    ttsError ??= ev.error instanceof Error ? ev.error.message : String(ev.error);
  };
  const tts = session.tts;
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  tts?.on("error", onTtsError);
  const outcome = (o: GoodbyeOutcome) => {
    attempting = false;
    ending.setGoodbyeOutcome(o);
    ending.report({ kind: "goodbye", outcome: o, ...(ttsError ? { cause: ttsError } : {}) });
    return o;
  };
  try {
    let handle = session.say(text, { allowInterruptions: false });
    ending.trackGoodbye(handle);
    ending.setGoodbyeOutcome("queued");
    if (options.before && options.before !== handle) {
      await drainBefore(options.before, options.drainMs ?? SPEECH_DRAIN_TIMEOUT_MS);
    }
    const started = performance.now();
    const deadline = started + timeoutMs;
    for (let attempt = 1;; attempt++) {
      spoke = false; // only this attempt's own speech counts
      attempting = true;
      ttsError = undefined;
      const result = await withTimeout(handle.waitForPlayout(), deadline - performance.now());
      if (result === TIMED_OUT) {
        const stalled = spoke
          ? "audio playout (the output never reported the goodbye finished)"
          : "speech synthesis (no goodbye audio was produced)";
        logger.warn(
          {
            stalled: spoke ? "playout" : "tts",
            timeout_ms: timeoutMs,
            ...(ttsError ? { tts_error: ttsError } : {}),
          },
          `goodbye did not finish within ${timeoutMs} ms: ${stalled}; closing anyway`,
        );
        handle.interrupt(true);
        return outcome(spoke ? "partial" : "timed_out");
      }
      if (handle.interrupted && ending.userGone) return outcome("skipped");
      if (ttsError === undefined && spoke) {
        logger.debug({ ms: Math.round(performance.now() - started) }, "goodbye played");
        return outcome(handle.interrupted ? "partial" : "played");
      }
      const why = ttsError ?? "no audio was produced";
      // Nothing was heard and there is time left: one more try, within the
      // same bound (a TTS that failed once, such as a dropped socket, often
      // works on a fresh connection).
      if (!spoke && attempt === 1 && !ending.userGone && performance.now() < deadline) {
        logger.warn(
          { stalled: "tts", tts_error: why, attempt },
          `the goodbye's speech synthesis failed (${why}); trying once more`,
        );
        handle = session.say(text, { allowInterruptions: false });
        ending.trackGoodbye(handle);
        continue;
      }
      logger.warn(
        { stalled: "tts", tts_error: why, heard: spoke ? "partial" : "none", attempt },
        `the goodbye's speech synthesis failed (${why}); ` +
          `${spoke ? "the part synthesized was played" : "nothing was heard"}; closing anyway`,
      );
      return outcome(spoke ? "partial" : "failed");
    }
  } finally {
    session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
    tts?.off("error", onTtsError);
  }
}
