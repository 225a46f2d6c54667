import { assertAlmostEquals, assertEquals } from "@std/assert";
import { LevelMeter, METER_FALL_DB_PER_S, peakDbfs } from "./level_meter.ts";

const tone = (amplitude: number) =>
  Int16Array.from({ length: 480 }, (_, i) => Math.round(amplitude * Math.sin(i / 5)));

Deno.test("level meter: peak dBFS of a frame; digital silence is -Infinity", () => {
  assertAlmostEquals(peakDbfs(Int16Array.of(0, 16384, -100)), -6.02, 0.01);
  assertAlmostEquals(peakDbfs(Int16Array.of(-32768)), 0, 1e-9);
  assertEquals(peakDbfs(new Int16Array(480)), -Infinity);
});

Deno.test("level meter: the bar follows speech at once and falls slowly after it", () => {
  const m = new LevelMeter();
  assertEquals(m.render(10, 0), "            -∞ dB");
  m.push(tone(32767), 0); // full scale
  assertEquals(m.render(10, 0), "██████████   0 dB");
  // A quieter frame right after does not pull the bar down: it falls at its own rate.
  m.push(tone(3277), 100); // about -20 dBFS
  assertAlmostEquals(m.level(100), -METER_FALL_DB_PER_S * 0.1, 0.01);
  // One second later the peak has fallen another 30 dB: -33 dB fills 27/60 of the bar.
  assertEquals(m.render(10, 1100), "████▌      -33 dB");
  // Silence for long enough empties it.
  m.push(new Int16Array(480), 3000);
  assertEquals(m.render(10, 3000), "            -∞ dB");
});

Deno.test("level meter: quiet speech still shows, in eighth-cell steps", () => {
  const m = new LevelMeter();
  m.push(tone(328), 0); // about -40 dBFS: a third of the scale
  assertEquals(m.render(10, 0), "███▍       -40 dB");
  assertEquals(m.render(4, 0), "█▍   -40 dB");
});
