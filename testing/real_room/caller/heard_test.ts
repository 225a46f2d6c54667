import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { synthesizeVoice } from "../../../simulation/mod.ts";
import { readWavFile } from "../../../console/wav.ts";
import { fromFileUrl } from "../../paths.ts";
import { findHeard, inFull } from "./heard.ts";
import { CALLER_SAMPLE_RATE } from "./protocol.ts";

const RATE = CALLER_SAMPLE_RATE;

/** A recording: silence, then each text at its start (ms), then silence. */
function recording(parts: [number, string][], totalMs: number): Int16Array {
  const out = new Int16Array(Math.round(totalMs * RATE / 1000));
  for (const [atMs, text] of parts) {
    out.set(synthesizeVoice(text, RATE), Math.round(atMs * RATE / 1000));
  }
  return out;
}

Deno.test("heard: finds the goodbye after the farewell, at its place, in full", () => {
  const samples = recording([[500, "It was nice talking to you."], [2400, "Goodbye!"]], 4000);
  const match = findHeard({ startAt: 10_000, samples }, "Goodbye!");
  if (!match) throw new Error("the goodbye was not found");
  assertAlmostEquals(match.startAt, 12_400, 10);
  assertEquals(match.expectedMs, 480);
  assert(match.coverage > 0.95 && match.correlation > 0.98, JSON.stringify(match));
  assertAlmostEquals(match.recordedAfterMs, 4000 - 2400 - 480, 10);
});

Deno.test("heard: a goodbye cut after its first syllable is not heard in full, and not mistaken for another word", () => {
  const samples = recording([[500, "It was nice talking to you."], [2400, "Goodbye!"]], 4000);
  samples.fill(0, Math.round(2600 * RATE / 1000)); // the line goes dead 200 ms into the goodbye
  const match = findHeard({ startAt: 0, samples }, "Goodbye!");
  assert(!inFull(match), JSON.stringify(match));
  // Searching only where the goodbye was played finds nothing at all.
  assertEquals(findHeard({ startAt: 0, samples }, "Goodbye!", 2300), undefined);
});

Deno.test("heard: a recording that stops inside the utterance shows it (negative time after it)", () => {
  const samples = recording([[500, "Goodbye!"]], 1500).subarray(0, 800 * RATE / 1000);
  const match = findHeard({ startAt: 0, samples }, "Goodbye!");
  assert(match === undefined || match.recordedAfterMs < 0, JSON.stringify(match));
});

Deno.test("heard: words never said are not found; the last of two matches wins", () => {
  const samples = recording([[200, "Goodbye!"], [1500, "Goodbye!"]], 2500);
  assertEquals(findHeard({ startAt: 0, samples }, "Take care, goodbye!"), undefined);
  assertAlmostEquals(findHeard({ startAt: 0, samples }, "Goodbye!")!.startAt, 1500, 10);
  assertAlmostEquals(findHeard({ startAt: 0, samples }, "Goodbye!", 0)!.startAt, 1500, 10);
});

// Two recordings a real caller made in a real room on a machine at load average 9 (see
// testdata/): the receiver's jitter buffer stretched the reply (plain envelope correlation 0.70)
// and concealed a lost 10 ms block of the goodbye. Both were heard in full, and must count so.
const testdata = (name: string) => new URL(`./testdata/${name}`, import.meta.url);

Deno.test("heard: a reply the jitter buffer stretched still counts as heard in full", async () => {
  const { samples } = await readWavFile(fromFileUrl(testdata("reply_stretched_under_load.wav")));
  const match = findHeard({ startAt: 0, samples }, "Hello! Nice to hear you.");
  assert(inFull(match), JSON.stringify(match));
});

Deno.test("heard: a goodbye with a concealed block counts; cut after its first syllable it does not", async () => {
  const { samples } = await readWavFile(fromFileUrl(testdata("goodbye_concealed_under_load.wav")));
  const match = findHeard({ startAt: 0, samples }, "Goodbye!");
  assert(inFull(match), JSON.stringify(match));
  const cut = samples.slice();
  cut.fill(0, Math.round((match!.startAt + 200) * RATE / 1000));
  assert(!inFull(findHeard({ startAt: 0, samples: cut }, "Goodbye!", match!.startAt - 100)));
});
