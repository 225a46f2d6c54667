import { assert, assertEquals } from "@std/assert";
import { Playout } from "./playout.ts";

const RATE = 48_000;
const seconds = (s: number) => new Int16Array(Math.round(RATE * s));

Deno.test("playout: audio is paced by its duration; a flush is acknowledged once it has played", async () => {
  const p = new Playout({ sampleRate: RATE, tickMs: 5 });
  try {
    const t0 = performance.now();
    p.write(seconds(0.3));
    assert(p.playing);
    assertEquals(await p.drain(), true);
    // Played in real time: the drain cannot resolve before the audio's length has passed.
    assert(performance.now() - t0 >= 290, `${performance.now() - t0} ms`);
    assertEquals([p.playing, Math.round(p.playedSeconds * 10), p.unplayedSeconds], [false, 3, 0]);
  } finally {
    await p.close();
  }
});

Deno.test("playout: text mode with nothing to play into takes audio as played on arrival", async () => {
  const p = new Playout({ sampleRate: RATE, tickMs: 5 });
  try {
    p.textMode = true;
    assertEquals(p.unpaced, true);
    p.write(seconds(60));
    assertEquals(p.playing, false);
    // A minute of speech, acknowledged at once: nobody hears it, so nothing waits for it.
    assertEquals(await p.drain(), true);
    assertEquals([p.playedSeconds, p.unplayedSeconds], [0, 60]);
  } finally {
    await p.close();
  }
});

Deno.test("playout: text mode still paces audio a recorder or a speaker takes", async () => {
  const kept: number[] = [];
  const recorded = new Playout({
    sampleRate: RATE,
    tickMs: 5,
    recorders: [{ write: (s) => kept.push(s.length) }],
  });
  const device = {
    latencyMs: 0,
    write: () => {},
    clear: () => {},
    close: () => Promise.resolve(),
  };
  const spoken = new Playout({ sampleRate: RATE, tickMs: 5, device });
  try {
    for (const p of [recorded, spoken]) {
      p.textMode = true;
      assertEquals(p.unpaced, false);
      p.write(seconds(0.1));
      assertEquals(p.playing, true);
      assertEquals(await p.drain(), true);
    }
    assertEquals(kept.reduce((a, b) => a + b, 0), RATE * 0.1);
  } finally {
    await recorded.close();
    await spoken.close();
  }
});
