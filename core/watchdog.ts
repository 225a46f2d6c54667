/**
 * A bound on a streamed LLM reply: the first chunk must come within one bound,
 * each next chunk within another. agents-js 1.9.0 has neither (the OpenAI SDK
 * timeout under `inference.LLM` is cleared once the response headers arrive),
 * so a gateway that stops mid-reply would hold the turn, and with it the
 * whole session, forever.
 *
 * @module
 */

import { APIConnectionError } from "@livekit/agents";

/**
 * The error the agent surfaces to the session when the watchdog cut a reply:
 * an `APIConnectionError` (not retryable), so agents-js treats it exactly as
 * a failure after the plugin's retries; its own name tells it apart from a
 * real connection failure (there is nothing to probe: the gateway answered).
 */
export class LlmStallError extends APIConnectionError {
  /** Creates the error for a stall after `waitedMs` without a chunk. */
  constructor(readonly stall: LlmStall, readonly waitedMs: number) {
    super({
      message: `LLM reply ${stall === "first_chunk" ? "did not start" : "stopped mid-reply"}: ` +
        `no chunk for ${waitedMs} ms`,
      options: { retryable: false },
    });
    this.name = "LlmStallError";
  }
}

/** What stalled, for the warning and the error surfaced to the session. */
export type LlmStall = "first_chunk" | "idle";

/** Options of {@link guardStream}. */
export interface GuardOptions {
  /** Longest wait for the first chunk. */
  firstChunkMs: number;
  /** Longest gap between two chunks. */
  idleMs: number;
  /** Called once when a bound passes, after upstream was cancelled. */
  onStall: (stall: LlmStall, waitedMs: number) => void;
}

/**
 * Wraps `upstream` so that a stall ends the reply: upstream is cancelled (which
 * closes the LLM stream and its HTTP request) and the returned stream ends
 * cleanly with whatever arrived, so agents-js treats it as a finished (short)
 * reply rather than logging a stack trace. `onStall` reports the stall; the
 * caller decides the policy (the agent surfaces it as an unrecoverable LLM
 * error). Errors from upstream pass through unchanged; no timer outlives the
 * stream.
 */
export function guardStream<T>(
  upstream: ReadableStream<T>,
  options: GuardOptions,
): ReadableStream<T> {
  const reader = upstream.getReader();
  let started = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  const stop = () => {
    finished = true;
    clearTimeout(timer);
  };
  return new ReadableStream<T>({
    pull: async (controller) => {
      if (finished) return;
      const bound = started ? options.idleMs : options.firstChunkMs;
      const waited = Promise.withResolvers<"stalled">();
      timer = setTimeout(() => waited.resolve("stalled"), bound);
      try {
        const result = await Promise.race([reader.read(), waited.promise]);
        if (result === "stalled") {
          stop();
          // Cancel without awaiting: a stalled body may never settle its cancel.
          reader.cancel("stalled").catch(() => {});
          options.onStall(started ? "idle" : "first_chunk", bound);
          controller.close();
          return;
        }
        if (result.done) {
          stop();
          controller.close();
          return;
        }
        started = true;
        controller.enqueue(result.value);
      } catch (error) {
        stop();
        controller.error(error);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => {
      stop();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 }); // pull only on demand, so the clock measures upstream alone
}
