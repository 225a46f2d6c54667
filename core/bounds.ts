/**
 * Every time bound on the hang-up path, in one place.
 *
 * A voice agent that ends calls must never wait forever on something outside its
 * process (an LLM stream, a TTS socket, an audio output that never acks, the
 * LiveKit API, a signal that arrives mid-goodbye). Each bound here is the longest
 * the agent waits before it moves on and says why in a warning. Values are
 * milliseconds; the ones an operator may need to change are read from the
 * environment in `config.ts`.
 *
 * How the bounds add up when an ending goes wrong (`G` = `GOODBYE_TIMEOUT_MS`):
 *
 * | Stage | Bound | Who enforces it |
 * | --- | --- | --- |
 * | LLM reply starts (first chunk) | {@link LLM_FIRST_CHUNK_TIMEOUT_MS} | `core/watchdog.ts`, given the bound by `agent.ts` |
 * | LLM reply continues (gap between chunks) | {@link LLM_IDLE_TIMEOUT_MS} | `core/watchdog.ts`, given the bound by `agent.ts` |
 * | LLM/STT/TTS errors, retried | plugin `connOptions` (agents-js defaults: 4 attempts, 0.1 + 2 + 2 s apart) | agents-js |
 * | Failed turns in a row before the call ends | `MAX_FAILED_TURNS` (default {@link DEFAULT_MAX_FAILED_TURNS}) | `core/turn_failures.ts`, the value read by `core/config.ts` |
 * | Gateway probe after a connection failure (for the log line only) | {@link GATEWAY_PROBE_TIMEOUT_MS} | `core/model_error.ts` |
 * | Speech already playing when the ending starts | {@link SPEECH_DRAIN_TIMEOUT_MS}, then interrupted | `core/say_bounded.ts` |
 * | "Goodbye!", synthesis to playout | `G` (default {@link DEFAULT_GOODBYE_TIMEOUT_MS}, at most {@link MAX_GOODBYE_TIMEOUT_MS}) | `core/say_bounded.ts`, the value read by `core/config.ts` |
 * | An abandoned speech's tasks after an interrupt | {@link LIBRARY_CANCEL_WAIT_MS} (fixed in agents-js) | agents-js |
 * | User-turn commit on close | {@link LIBRARY_CLOSE_COMMIT_MS} (fixed in agents-js) | agents-js |
 * | The hang-up after a goodbye that played (the room deleted, without waiting for `Close`) | {@link HANGUP_AFTER_GOODBYE_MS}, then {@link DELETE_ROOM_TIMEOUT_MS} | `core/job_end.ts` |
 * | Whole ending, request to `Close` | {@link SESSION_CLOSE_TIMEOUT_MS}, then the forced ending | `core/job_end.ts` |
 * | Forced ending (worker): the agent leaves the room and, when it ended the call, has the room deleted, both at once | {@link ROOM_DISCONNECT_TIMEOUT_MS}, {@link DELETE_ROOM_TIMEOUT_MS} | `core/job_end.ts` |
 * | Forced ending (worker): the job process, still held by the stuck close, exits (in a call host: its channel is released) | {@link FORCED_JOB_EXIT_MS} after the room work | `core/job_end.ts` |
 * | The room connection lost mid-call (server gone) | {@link ROOM_RECONNECT_TIMEOUT_MS}, then the call ends without a goodbye | `core/room_link.ts` |
 * | Console process after its teardown | {@link LOG_FLUSH_GRACE_MS} (or {@link CONSOLE_EXIT_GRACE_MS} with a local inference process), then `Deno.exit` (0, or 3 after a model failure) | `core/console_exit.ts` |
 * | A second SIGINT/SIGTERM while ending | exit 130/143 once the log flushed, after {@link LOG_FLUSH_GRACE_MS} | `core/signals.ts`, `core/console_exit.ts` |
 * | An agent lost mid-call (its process killed): until the server reports it gone | {@link SERVER_AGENT_TIMEOUT_MS} (fixed in livekit-server) | livekit-server |
 * | ...then until a replacement joins, or the caller is told and hung up | `KEEPER_JOIN_TIMEOUT` (default {@link KEEPER_JOIN_TIMEOUT_MS}) | `keeper/` |
 * | A caller alone in a new call (every worker full), until the keeper dispatches | `KEEPER_ANSWER_TIMEOUT` (default {@link KEEPER_ANSWER_TIMEOUT_MS}) | `keeper/` |
 *
 * So once an ending has started, `Close` comes within
 * {@link closeBoundMs}`(G)` = drain + `G` + cancel wait + commit, and never later than
 * {@link SESSION_CLOSE_TIMEOUT_MS} (30 s), whatever stalls: past it the forced ending hangs
 * up at once (room deletion requested, bounded by {@link DELETE_ROOM_TIMEOUT_MS}) and leaves
 * the room (bounded by {@link ROOM_DISCONNECT_TIMEOUT_MS}), without waiting for the stuck
 * close. `G` itself is capped at {@link MAX_GOODBYE_TIMEOUT_MS} so that `closeBoundMs(G)`
 * fits inside the 30 s with {@link CLOSE_MARGIN_MS} to spare.
 *
 * @module
 */

/** Default for `GOODBYE_TIMEOUT_MS`: the longest "Goodbye!" may take from synthesis to playout acknowledged. */
export const DEFAULT_GOODBYE_TIMEOUT_MS = 10_000;

/** Longest wait for the LiveKit API to delete the room after the call ended. */
export const DELETE_ROOM_TIMEOUT_MS = 5_000;

/**
 * After the goodbye has played, how long the job waits before it deletes the room (when the agent
 * ended the call). "Played" means rtc-node's audio source has handed the last frame to WebRTC; the
 * margin lets those last packets cross the network and the caller's jitter buffer before the
 * hang-up tears the caller's connection down (in the real room, 60 ms left the caller's recording
 * 10 ms short of the goodbye's trailing silence). agents-js would wait for the session's close
 * instead, 500 ms later (its fixed wait for a last user turn).
 */
export const HANGUP_AFTER_GOODBYE_MS = 120;

/**
 * Longest a console process may take, after its last shutdown callback ran,
 * before it is ended by `Deno.exit(0)`, when a local inference process still
 * has to be closed (agents-js bounds that close at 5 s itself). Without one,
 * only the log flush remains and {@link LOG_FLUSH_GRACE_MS} applies.
 *
 * The process cannot simply be left to end by itself: agents-js 1.9.0 leaves
 * timers running after the session closed (a 5 s `delay` per
 * `Task.cancelAndWait` that is never cleared, and a 15 s user-away timer armed
 * during close), found by instrumenting `setTimeout` in a console run.
 */
export const CONSOLE_EXIT_GRACE_MS = 6_000;

/**
 * Longest an ending may take from its request (the `end_session` tool, a
 * hang-up, a signal, or `onExit` starting after an error) to the session's
 * `Close`. Past it the job is ended without waiting: one warning says what was
 * still pending, the `session ended` line carries `forced: true`, and a
 * console process exits. It sits above {@link closeBoundMs} for the default
 * goodbye bound, so it only fires when something the other bounds do not
 * cover hangs (agents-js's own close, for instance).
 */
export const SESSION_CLOSE_TIMEOUT_MS = 30_000;

/**
 * Longest the speech already playing when an ending starts (the LLM's own
 * words in the `end_session` turn) may take to finish before it is
 * interrupted so the goodbye can start. An audio output that never reports
 * playout finished (a console broker that never acks) would otherwise hold
 * the close: agents-js drains that speech without a bound. Generous, because
 * a long farewell the LLM speaks in the same turn must still play in full.
 */
export const SPEECH_DRAIN_TIMEOUT_MS = 15_000;

/**
 * Longest wait for the first chunk of an LLM reply. The OpenAI SDK under
 * `inference.LLM` only bounds the response headers; a gateway that answers
 * headers and then nothing would hold the turn forever. Longer than the
 * plugin's retry budget for fast failures (0.1 + 2 + 2 s between 4 attempts),
 * so retries of a 500 still run their course and surface as the plugin's own
 * error.
 */
export const LLM_FIRST_CHUNK_TIMEOUT_MS = 10_000;

/**
 * Longest gap between two chunks of one LLM reply (a stream that stops
 * mid-reply). Streaming LLMs send tokens every few tens of ms; the bound also
 * covers one plugin retry (2 s apart) after a dropped stream.
 */
export const LLM_IDLE_TIMEOUT_MS = 5_000;

/**
 * agents-js's own policy for unrecoverable model errors
 * (`connOptions.maxUnrecoverableErrors`), set so that agents-js closes the
 * session on every such error it is shown. The agent decides first: its
 * failed-turn policy (`core/turn_failures.ts`) marks the errors it tolerates
 * as handled, and lets through only the one that reaches `MAX_FAILED_TURNS`,
 * which agents-js then closes on (reason `error`, end reasons `llm_error` /
 * `tts_error` / `stt_error`), with the goodbye said by `onExit`. agents-js's
 * own counter could not do it: it ignores STT errors (the first closes the
 * session), counts LLM and TTS apart, and resets whenever the agent speaks,
 * the apology included.
 */
export const MAX_UNRECOVERABLE_ERRORS = 0;

/**
 * Default for `MAX_FAILED_TURNS`: how many turns in a row may fail (a model
 * failing past its plugin's retries, or the LLM stalling past its watchdog)
 * before the call ends. agents-js's default tolerance is also 3. A turn that
 * works resets the count; each failed turn below the limit gets an apology.
 */
export const DEFAULT_MAX_FAILED_TURNS = 3;

/**
 * Longest the agent probes the Inference gateway (one TCP connect) after a
 * model failed with a connection error, to say why in the log line ("connection
 * refused", "host not found", ...). The plugins' errors drop that cause. The
 * probe only delays the log line, never the call.
 */
export const GATEWAY_PROBE_TIMEOUT_MS = 1_000;

/**
 * Longest the forced ending (worker mode) waits for the agent to leave the
 * room (`room.disconnect()`) when the session did not close in time. agents-js
 * would only disconnect after waiting up to 60 s more for the same stuck close.
 */
export const ROOM_DISCONNECT_TIMEOUT_MS = 5_000;

/**
 * After a forced ending in a worker (the call is over: room left, and deleted when the agent
 * ended the call), how long the job process gives agents-js's own shutdown to finish before it
 * exits by itself. agents-js awaits the same stuck close for up to 60 s before it lets the
 * process go, and the worker counts that process as a busy call slot all along.
 */
export const FORCED_JOB_EXIT_MS = 5_000;

/**
 * agents-js 1.9.0 (`REPLY_TASK_CANCEL_TIMEOUT`, speech_handle.ts): after a
 * speech is interrupted it waits up to this long for that speech's TTS and
 * forwarding tasks to acknowledge the cancel. A TTS that stalls ignores it, so
 * an abandoned goodbye costs this much more before the close goes on. Not
 * configurable; recorded here because it is part of every close bound.
 */
export const LIBRARY_CANCEL_WAIT_MS = 2_000;

/** agents-js 1.9.0: every close commits the user turn and waits this long for it. Not configurable. */
export const LIBRARY_CLOSE_COMMIT_MS = 500;

/**
 * Longest a close may take once an ending has started, when every other bound
 * holds: the speech still playing (at most `speechDrainMs`; pass 0 when the
 * ending starts in silence), the goodbye, and agents-js's fixed waits after an
 * interrupt and on close. Tests assert endings against this value.
 */
export function closeBoundMs(
  goodbyeTimeoutMs: number,
  speechDrainMs: number = SPEECH_DRAIN_TIMEOUT_MS,
): number {
  return speechDrainMs + goodbyeTimeoutMs + LIBRARY_CANCEL_WAIT_MS + LIBRARY_CLOSE_COMMIT_MS;
}

/**
 * What the close bound keeps beyond the sum of the named bounds: the work of
 * an ending that no timer bounds (the tool's return, agents-js scheduling
 * `onExit`, closing the model streams and outputs) and timers firing late on
 * a busy machine. {@link SESSION_CLOSE_TIMEOUT_MS} starts when the ending
 * starts, the goodbye's own clock only once `onExit` runs and the speech
 * before it is done, so without this margin a worst-case ending at the
 * largest goodbye bound, every stage within its bound, would still end as a
 * forced ending. Measured: that worst case (drain, cancel wait and goodbye
 * all spent) closes 120 to 600 ms after {@link closeBoundMs}, on loopback
 * with both cores busy (`deno test -A faults/session_test.ts --filter "at its
 * limit"` prints what it leaves); 2 s leaves room for remote model sockets
 * and slower machines.
 */
export const CLOSE_MARGIN_MS = 2_000;

/**
 * Largest `GOODBYE_TIMEOUT_MS` the bounds can honour: {@link maxGoodbyeTimeoutMs}
 * with the production bounds, 30 000 − (15 000 + 2 000 + 500) − 2 000 =
 * 10 500 ms. Larger values are refused at start-up.
 */
export const MAX_GOODBYE_TIMEOUT_MS: number = maxGoodbyeTimeoutMs();

/**
 * The largest goodbye bound whose worst case, with `speechDrainMs` of speech
 * still playing when the ending starts, closes within `sessionCloseMs` with
 * {@link CLOSE_MARGIN_MS} to spare: `closeBoundMs(G, drain) + margin <= sessionCloseMs`.
 */
export function maxGoodbyeTimeoutMs(
  sessionCloseMs: number = SESSION_CLOSE_TIMEOUT_MS,
  speechDrainMs: number = SPEECH_DRAIN_TIMEOUT_MS,
): number {
  return sessionCloseMs - closeBoundMs(0, speechDrainMs) - CLOSE_MARGIN_MS;
}

/**
 * Grace a forced console exit (second signal, close bound passed) gives the
 * log to write its last lines: the pretty console logger writes
 * asynchronously and has no flush that reports completion.
 */
export const LOG_FLUSH_GRACE_MS = 200;

/** Exit status after a second SIGINT during shutdown (128 + 2, as a shell reports it). */
export const SIGINT_EXIT = 130;
/** Exit status after a second SIGTERM during shutdown (128 + 15). */
export const SIGTERM_EXIT = 143;

/**
 * Longest a job waits for its room connection to come back once it is lost (the LiveKit server
 * restarted, the network dropped). rtc-node reconnects by itself and gives up after about 13 s
 * against a server that is gone; past this bound the job ends without waiting for that, without
 * a goodbye (nobody could hear it), with `end_reason` `room_disconnected`.
 */
export const ROOM_RECONNECT_TIMEOUT_MS = 10_000;

/**
 * How long livekit-server (v1.13.5) keeps an agent whose process died in the room before it
 * reports it gone (`participant_left`, `CONNECTION_TIMEOUT`): ICE "disconnected" after 10 s
 * without a packet, "failed" 5 s later, then 5 s more before the participant is removed
 * (`iceDisconnectedTimeout`, `iceFailedTimeout` in pkg/rtc/transport.go and
 * `disconnectCleanupDuration` in pkg/rtc/participant.go: constants, not in its config). The
 * server's figure, not ours: it is here so the keeper's bounds can be added to it.
 */
export const SERVER_AGENT_TIMEOUT_MS = 20_000;

/**
 * Default for `KEEPER_JOIN_TIMEOUT`: how long the call keeper gives a dispatched agent (a
 * replacement, or the answer to a call nobody took) to join before it tells the caller and
 * deletes the room. A worker with an idle prewarmed process joins in about a second.
 */
export const KEEPER_JOIN_TIMEOUT_MS = 10_000;

/**
 * Default for `KEEPER_ANSWER_TIMEOUT`: how long a caller may be alone in a new call before the
 * keeper dispatches an agent itself. livekit-server dispatches once, when the room is created,
 * and never again: a call that arrives while every worker is full would wait in silence forever.
 */
export const KEEPER_ANSWER_TIMEOUT_MS = 10_000;

/** How often the keeper looks at a room it waits on (an agent to join, the caller to leave). */
export const KEEPER_POLL_INTERVAL_MS = 250;
