/**
 * The goodbye: say it, bounded, after the speech still playing, and record
 * how it went on the call's {@link CallEnding}. A TTS or audio output that
 * stalls must not hold the close, so every wait here is bounded and a stall
 * is named in a warning.
 *
 * @module
 */
import { voice } from "@livekit/agents";
import { LIBRARY_CANCEL_WAIT_MS, SPEECH_DRAIN_TIMEOUT_MS } from "./bounds.ts";
import type { CallEnding, GoodbyeOutcome } from "./ending.ts";
import { log } from "./log.ts";
import { TIMED_OUT, withTimeout } from "./timeout.ts";

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
 * Waits until `before` is done, at most agents-js's cancel wait. After an
 * interrupt agents-js keeps a speech current until its stalled tasks answered
 * or that wait ran out; if `onExit` returned inside it (a goodbye bound shorter
 * than the wait), the close would `waitForPlayout()` on the `end_session`
 * turn's own speech from inside that tool and reject with
 * `SpeechHandleCircularWaitError`, nobody catching it.
 */
async function settled(before: voice.SpeechHandle): Promise<void> {
  if (before.done()) return;
  const done = new Promise<void>((resolve) => before.addDoneCallback(() => resolve()));
  await withTimeout(done, LIBRARY_CANCEL_WAIT_MS);
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
    if (options.before) await settled(options.before);
  }
}
