/**
 * Checks a real-room test makes of what a caller heard, against what the simulation synthesized.
 *
 * @module
 */
import { assert } from "@std/assert";
import { readWavFile } from "../../console/wav.ts";
import type { Caller } from "./caller/mod.ts";
import { findHeard, type HeardMatch, inFull } from "./caller/heard.ts";
import { GOODBYE } from "../../agent.ts";
import { HELLO, HELLO_REPLY_FIRST_SENTENCE, type RealRoom } from "./real_room.ts";
import { until } from "../wait.ts";

/**
 * Says `text` and waits until the simulated STT transcribed it, failing with what it heard
 * instead (and the utterance's measured length) when the phrasebook did not recognize it: a
 * test about the goodbye should not fail later, and vaguely, because "bye" was heard as hello.
 */
export async function sayHeard(room: RealRoom, caller: Caller, text: string) {
  const since = room.gateway.log.length;
  const said = await caller.say(text);
  const finals = () =>
    room.gateway.log.slice(since).flatMap((e) =>
      e.kind === "stt_final" ? [`"${e.text}" (${e.durationS.toFixed(2)} s)`] : []
    );
  let final;
  try {
    final = await room.gateway.waitFor(
      (e) => e.kind === "stt_final" && e.text !== "" && room.gateway.log.indexOf(e) >= since,
      20_000,
    );
  } catch {
    throw new Error(`the simulated STT recognized nothing for "${text}"; it heard ${finals()}`);
  }
  if (final.kind === "stt_final" && final.text !== text) {
    throw new Error(`the simulated STT heard ${finals().join(", ")} for "${text}"`);
  }
  return said;
}

/** Says hello and waits until the reply was heard in full. */
export async function helloExchange(room: RealRoom, caller: Caller): Promise<HeardMatch> {
  const said = await sayHeard(room, caller, HELLO);
  await caller.heardAfter(said.endAt, 20_000, "the reply to hello");
  return await heardInFull(caller, HELLO_REPLY_FIRST_SENTENCE, said.endAt);
}

/**
 * Waits until the simulation was asked to synthesize "Goodbye!" (after `after`, epoch ms), then
 * until the caller heard it in full. The synthesis time anchors the search: no audio of the
 * goodbye can reach the caller before it was synthesized.
 */
export async function goodbyeHeard(
  room: RealRoom,
  caller: Caller,
  after: number,
): Promise<HeardMatch> {
  const origin = performance.timeOrigin;
  const asked = await room.gateway.waitFor(
    (e) => e.kind === "tts_transcript" && e.text === GOODBYE && origin + e.t >= after,
    30_000,
  );
  return await heardInFull(caller, GOODBYE, origin + asked.t);
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
  const path = await Deno.makeTempFile({ prefix: "heard-", suffix: ".wav" });
  let keep = false;
  let startAt = 0;
  try {
    // What is heard arrives in real time: wait until the recording holds the whole utterance.
    let match: HeardMatch | undefined;
    try {
      await until(
        async () => {
          // Read before saving: a recording saved after the hang-up holds all there will be.
          const complete = caller.events().some((e) => e.ev === "disconnected");
          const saved = await caller.save(path);
          startAt = saved.startAt;
          const wav = await readWavFile(path);
          match = findHeard({ startAt, samples: wav.samples }, text, notBefore);
          // A caller who was hung up hears nothing more: its recording is then complete, and the
          // match is judged as it stands (a goodbye cut by the hang-up fails `inFull` below).
          return match !== undefined && (match.recordedAfterMs >= 100 || complete)
            ? true
            : undefined;
        },
        20_000,
        `the caller to hear "${text}"`,
      );
    } catch (error) {
      keep = true;
      throw new Error(
        `${error instanceof Error ? error.message : error}; the recording is kept in ${path} ` +
          `(${text} expected after +${Math.round(notBefore - startAt)} ms)`,
      );
    }
    assert(inFull(match), `"${text}" was cut: ${JSON.stringify(match)}`);
    return match!;
  } finally {
    if (!keep) await Deno.remove(path);
  }
}
