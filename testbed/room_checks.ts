/**
 * Checks a real-room test makes of what a caller heard, against what the simulation synthesized.
 *
 * @module
 */
import { assert } from "@std/assert";
import { readWavFile } from "../console/wav.ts";
import type { Caller } from "./caller/mod.ts";
import { findHeard, type HeardMatch } from "./caller/heard.ts";
import { HELLO, HELLO_REPLY_FIRST_SENTENCE } from "./real_room.ts";
import { until } from "./wait.ts";

/** Says hello and waits until the reply was heard in full. */
export async function helloExchange(caller: Caller): Promise<HeardMatch> {
  const said = await caller.say(HELLO);
  await caller.heardAfter(said.endAt, 20_000, "the reply to hello");
  return await heardInFull(caller, HELLO_REPLY_FIRST_SENTENCE, said.endAt);
}

/**
 * Waits until the caller's recording holds `text` (as the simulation synthesizes it) after
 * `notBefore` (epoch ms), and asserts it arrived in full.
 */
export async function heardInFull(
  caller: Caller,
  text: string,
  notBefore: number,
): Promise<HeardMatch> {
  const path = await Deno.makeTempFile({ suffix: ".wav" });
  try {
    // What is heard arrives in real time: wait until the recording holds the whole utterance.
    let match: HeardMatch | undefined;
    await until(
      async () => {
        const saved = await caller.save(path);
        const wav = await readWavFile(path);
        match = findHeard({ startAt: saved.startAt, samples: wav.samples }, text, notBefore);
        return match !== undefined && match.recordedAfterMs >= 100 ? true : undefined;
      },
      20_000,
      `the caller to hear "${text}"`,
    );
    assert(match!.coverage >= 0.9, `"${text}" was cut: ${JSON.stringify(match)}`);
    return match!;
  } finally {
    await Deno.remove(path);
  }
}
