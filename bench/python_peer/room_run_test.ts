import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { synthesizeVoice, ttsDurationMs } from "../../simulation/mod.ts";
import { LOUD_RMS, loudSpanMs } from "./room_run.ts";

Deno.test("loudSpanMs: silence is 0; a tone is its own length; voice sits inside its duration", () => {
  const rate = 48000;
  assertEquals(loudSpanMs(new Int16Array(rate), rate), 0);
  const tone = new Int16Array(rate);
  // 200 ms of silence, 500 ms of tone, silence again.
  for (let i = 0.2 * rate; i < 0.7 * rate; i++) tone[i] = Math.round(8000 * Math.sin(i / 10));
  assertAlmostEquals(loudSpanMs(tone, rate), 500, 10);
  const voice = synthesizeVoice("Goodbye!", rate);
  const span = loudSpanMs(voice, rate);
  assert(span > 0.6 * ttsDurationMs("Goodbye!") && span <= ttsDurationMs("Goodbye!"), `${span}`);
  // A goodbye cut in half is heard as clearly shorter.
  assert(loudSpanMs(voice.subarray(0, voice.length / 2), rate) < 0.75 * span);
  assert(LOUD_RMS > 0);
});
