import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  blockPitch,
  Phrasebook,
  phrasePitches,
  phraseVoice,
  SpeechDetector,
  synthesizeVoice,
} from "./voice.ts";

const PHRASES = [
  "Hello there!",
  "Okay, thanks. Goodbye!",
  "Could you tell me a little more about what you can do for me?",
];

const PITCH = phrasePitches(PHRASES);

/** What the STT's detector measures for `pcm`. */
function heard(pcm: Int16Array, rate: number): { lengthS: number; pitchHz: number } {
  const detector = new SpeechDetector(rate);
  for (const e of [...detector.push(pcm), ...detector.push(new Int16Array(rate))]) {
    if (e.type === "end") return { lengthS: e.endS - e.startS, pitchHz: e.pitchHz };
  }
  throw new Error("no utterance");
}

Deno.test("voice: the pitch estimate is right for a harmonic voice from 90 to 400 Hz", () => {
  for (const f0 of [90, 120, 150, 200, 300, 400]) {
    const rate = 16_000;
    const w = Array.from(
      { length: 320 },
      (_, i) =>
        8000 *
        (Math.sin(2 * Math.PI * f0 * i / rate) + 0.5 * Math.sin(4 * Math.PI * f0 * i / rate)),
    );
    assertAlmostEquals(blockPitch(w, rate), f0, f0 * 0.02);
  }
  assertEquals(blockPitch(new Array(320).fill(0), 16_000), 0);
});

Deno.test("phrasebook: each phrase said in its own voice is recognized as itself, at 16 and 48 kHz", () => {
  for (const rate of [16_000, 48_000]) {
    const book = new Phrasebook(PHRASES, rate);
    for (const p of PHRASES) {
      const h = heard(phraseVoice(p, rate, PITCH.get(p)!), rate);
      assertAlmostEquals(h.pitchHz, PITCH.get(p)!, PITCH.get(p)! * 0.05);
      assertEquals(book.match(h.lengthS, h.pitchHz), p);
    }
  }
});

Deno.test("phrasebook: a phrase stretched or squeezed in time (pitch kept) is still itself; a fragment is not", () => {
  const book = new Phrasebook(PHRASES, 16_000);
  for (const p of PHRASES) {
    const h = heard(phraseVoice(p, 16_000, PITCH.get(p)!), 16_000);
    assertEquals(book.match(h.lengthS * 0.6, h.pitchHz), p);
    assertEquals(book.match(h.lengthS * 1.7, h.pitchHz), p);
    assertEquals(book.match(h.lengthS * 0.3, h.pitchHz), undefined, "a fragment");
  }
});

Deno.test("phrasebook: the agent's own voice (150 Hz) saying a phrase is not taken for the caller", () => {
  const book = new Phrasebook(PHRASES, 16_000);
  const misses = PHRASES.filter((p) => {
    const h = heard(synthesizeVoice(p, 16_000), 16_000);
    return Math.abs(PITCH.get(p)! - 150) / PITCH.get(p)! > 0.15 &&
      book.match(h.lengthS, h.pitchHz) === p;
  });
  assertEquals(misses, []);
});

Deno.test("phrasebook: its phrases are said at pitches far apart; too many or repeated phrases are refused", () => {
  const pitches = [...PITCH.values()];
  assert(pitches.every((p, i) => i === 0 || p / pitches[i - 1] > 1.3));
  assertThrows(() => new Phrasebook(["a b", "c d", "e f", "g h", "i j", "k l"]), Error, "at most");
  assertThrows(() => new Phrasebook(["Hello there!", "Hello there!"]), Error, "repeated");
});
