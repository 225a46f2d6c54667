/**
 * An STT node that survives its stream failing.
 *
 * When an STT stream fails past its plugin's retries, agents-js 1.9.0 ends
 * it for good: the audio pipeline reads no more transcripts and the agent is
 * deaf for the rest of the call. The failed-turn policy
 * (`core/turn_failures.ts`) counts such a failure as a failed turn and, below
 * `MAX_FAILED_TURNS`, keeps the call going; this node then opens a fresh
 * stream on the same audio, with a fresh retry budget, so the agent hears
 * again. A stream that ends for any other reason (the session closing) ends
 * the node.
 *
 * @module
 */
import type { stt } from "@livekit/agents";
import { log } from "./log.ts";

type SttOutput = ReadableStream<stt.SpeechEvent | string>;

/** Options of {@link reopeningStt}. */
export interface ReopeningSttOptions {
  /**
   * Opens one STT stream on the (shared) audio input: agents-js's default
   * node, which detaches the input again when its stream ends, so the same
   * input can be handed to the next one.
   */
  open: () => Promise<SttOutput | null>;
  /** STT failures tolerated so far; growth during a stream means it failed and may be reopened. */
  failures: () => number;
  /** False once nothing should be heard any more (the call is ending). */
  mayReopen: () => boolean;
}

/** The events of successive STT streams, as one stream (see the module doc). */
export function reopeningStt(options: ReopeningSttOptions): SttOutput {
  let reader: ReadableStreamDefaultReader<stt.SpeechEvent | string> | undefined;
  let failuresAtOpen = 0;
  let cancelled = false;
  let opened = 0;
  return new ReadableStream<stt.SpeechEvent | string>({
    async pull(controller) {
      for (;;) {
        if (!reader) {
          failuresAtOpen = options.failures();
          const node = await options.open();
          if (!node || cancelled) {
            await node?.cancel();
            controller.close();
            return;
          }
          opened++;
          reader = node.getReader();
        }
        let failure: unknown;
        try {
          const result = await reader.read();
          if (!result.done) {
            controller.enqueue(result.value);
            return;
          }
        } catch (error) {
          failure = error;
        }
        reader.releaseLock();
        reader = undefined;
        const tolerated = options.failures() > failuresAtOpen;
        if (cancelled || !tolerated || !options.mayReopen()) {
          if (failure === undefined) controller.close();
          else controller.error(failure);
          return;
        }
        log().info(
          { stt_streams: opened + 1 },
          "reopening the speech-to-text stream after its failure, so the agent hears again",
        );
      }
    },
    cancel(reason) {
      cancelled = true;
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
