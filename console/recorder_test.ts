import { assertEquals, assertThrows } from "@std/assert";
import { SessionRecorder } from "./recorder.ts";
import { decodeWav, WavError } from "./wav.ts";

const RATE = 1000; // one sample per ms keeps the arithmetic readable

Deno.test("recorder: both sides land on one timeline and end together", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = 500;
    const rec = SessionRecorder.create(`${dir}/nested/rec`, RATE, () => now);
    now = 1000;
    rec.begin(); // t = 0 of both files
    now = 1100;
    rec.user.write(new Int16Array(100).fill(7)); // played from 0 to 100 ms
    now = 1400;
    rec.agent.write(new Int16Array(200).fill(-9)); // played from 200 to 400 ms
    now = 1420;
    rec.user.write(new Int16Array(20).fill(7)); // 400 to 420 ms
    now = 1600;
    const files = rec.close();
    assertEquals(files, [`${dir}/nested/rec/user.wav`, `${dir}/nested/rec/agent.wav`]);
    const user = decodeWav(await Deno.readFile(files[0])).samples;
    const agent = decodeWav(await Deno.readFile(files[1])).samples;
    assertEquals([user.length, agent.length], [600, 600]);
    assertEquals([user[0], user[99], user[100], user[399], user[400], user[419], user[420]], [
      7,
      7,
      0,
      0,
      7,
      7,
      0,
    ]);
    assertEquals([agent[199], agent[200], agent[399], agent[400]], [0, -9, -9, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recorder: a late write is appended, never moved back; a silent side is not written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = 0;
    const rec = SessionRecorder.create(dir, RATE, () => now);
    rec.begin();
    now = 100;
    rec.agent.write(new Int16Array(100).fill(1));
    rec.agent.write(new Int16Array(50).fill(2)); // same instant: follows on
    now = 200;
    assertEquals(rec.close(), [`${dir}/agent.wav`]);
    const agent = decodeWav(await Deno.readFile(`${dir}/agent.wav`)).samples;
    assertEquals([agent.length, agent[99], agent[100], agent[149]], [200, 1, 2, 2]);
    assertEquals(await Deno.stat(`${dir}/user.wav`).catch(() => "absent"), "absent");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recorder: a folder that cannot be used is one sentence", async () => {
  const file = await Deno.makeTempFile();
  try {
    assertThrows(
      () => SessionRecorder.create(file, RATE),
      WavError,
      `--record ${file} cannot be used (`,
    );
  } finally {
    await Deno.remove(file);
  }
});
