/**
 * Every time bound on the hang-up path, in one place.
 *
 * A voice agent that ends calls must never wait forever on something outside its
 * process (a TTS socket, an audio output that never acks, the LiveKit API). Each
 * bound here is the longest the agent waits before it moves on and says why in
 * a warning. Values are milliseconds; the ones an operator may need to change
 * are read from the environment in `config.ts`.
 *
 * @module
 */

/** Default for `GOODBYE_TIMEOUT_MS`: the longest "Goodbye!" may take from synthesis to playout acknowledged. */
export const DEFAULT_GOODBYE_TIMEOUT_MS = 10_000;

/** Longest wait for the LiveKit API to delete the room after the call ended. */
export const DELETE_ROOM_TIMEOUT_MS = 5_000;

/**
 * Longest a console process may take, after its session closed and its teardown
 * ran, before it is ended by `Deno.exit`. agents-js 1.9.0 leaves an rtc-node
 * resampler holding the event loop in console mode, so the process would
 * otherwise linger (known-pitfalls.md).
 */
export const CONSOLE_EXIT_GRACE_MS = 2_000;

/** Longest wait for the session to report `Close` after the job was asked to shut down. */
export const SESSION_CLOSE_TIMEOUT_MS = 20_000;
