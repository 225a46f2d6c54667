import { assert, assertEquals, assertRejects } from "@std/assert";
import { initializeLogger } from "@livekit/agents";
import { AudioFrame, AudioSource } from "@livekit/rtc-node";
import {
  FRAME_MS,
  IDLE_MS,
  installPacedAudio,
  LEAD_MS,
  originalAudioSource,
  PACED_QUEUE_MS,
  type PacedRun,
  Pacer,
  type PacerClock,
  QUEUE_MS,
  TICK_MS,
} from "./paced_audio.ts";

initializeLogger({ pretty: false, level: "fatal" });

const RATE = 16_000;
const PER_MS = RATE / 1000;
const FRAME = PER_MS * FRAME_MS;

/** Lets every pending promise callback run (one turn of the event loop). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Time driven by hand: `advance` wakes each sleeper at its own time, in order. */
class HandClock implements PacerClock {
  t = 0;
  #sleepers: { at: number; wake: () => void }[] = [];
  now = () => this.t;
  sleep = (ms: number) =>
    new Promise<void>((wake) => this.#sleepers.push({ at: this.t + ms, wake }));
  async advance(to: number): Promise<void> {
    for (;;) {
      await settle();
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > to) break;
      this.#sleepers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    this.t = to;
    await settle();
  }
}

type Sent =
  | { at: number; frame: Int16Array }
  | { at: number; muted: boolean }
  | { at: number; run: PacedRun };

function rig() {
  const clock = new HandClock();
  const log: Sent[] = [];
  const pacer = new Pacer(RATE, 1, {
    send: (frame) => {
      log.push({ at: clock.t, frame: frame.slice() });
    },
    setMuted: (muted) => log.push({ at: clock.t, muted }),
    idle: (run) => log.push({ at: clock.t, run }),
  }, clock);
  const frames = () => log.filter((e): e is { at: number; frame: Int16Array } => "frame" in e);
  const mutes = () => log.filter((e): e is { at: number; muted: boolean } => "muted" in e);
  const runs = () => log.flatMap((e) => "run" in e ? [e.run] : []);
  return { clock, pacer, log, frames, mutes, runs };
}

/** `ms` of audio whose every sample is non-zero and tells its position. */
function speech(ms: number, from = 1): Int16Array {
  return Int16Array.from({ length: ms * PER_MS }, (_, i) => ((from + i) % 30_000) + 1);
}

const loud = (frame: Int16Array) => frame.some((s) => s !== 0);

Deno.test("Pacer: audio goes out in 10 ms frames, in order, in real time, the last frame padded", async () => {
  const { clock, pacer, frames } = rig();
  const audio = speech(95);
  await pacer.push(audio);
  await clock.advance(1000);
  const sent = frames();
  assert(sent.every((s) => s.frame.length === FRAME));
  const joined = new Int16Array(sent.length * FRAME);
  sent.forEach((s, i) => joined.set(s.frame, i * FRAME));
  assertEquals(joined.subarray(0, audio.length), audio);
  assert(joined.subarray(audio.length).every((s) => s === 0), "only silence after the audio");
  sent.forEach((s, k) => {
    // Never more than LEAD_MS ahead of its time, never later than one wake after it.
    assert(s.at >= k * FRAME_MS - LEAD_MS, `frame ${k} at ${s.at} ms is too early`);
    assert(s.at <= Math.max(0, k * FRAME_MS - LEAD_MS + TICK_MS), `frame ${k} at ${s.at} is late`);
  });
});

Deno.test("Pacer: the track is muted after IDLE_MS of silence, and unmuted before the next audio", async () => {
  const { clock, pacer, frames, mutes, log } = rig();
  await pacer.push(speech(50));
  await clock.advance(2000);
  assertEquals(mutes().map((m) => m.muted), [true]);
  const sent = frames();
  const lastLoud = sent.findLastIndex((s) => loud(s.frame));
  assertEquals(sent.length - 1 - lastLoud, IDLE_MS / FRAME_MS, "IDLE_MS of silence, then nothing");
  assert(pacer.muted);

  await pacer.push(speech(40));
  await clock.advance(4000);
  const unmute = log.findIndex((e) => "muted" in e && !e.muted);
  const nextAudio = log.findIndex((e, i) => i > lastLoud && "frame" in e && loud(e.frame));
  assert(unmute >= 0 && unmute < nextAudio, "unmuted before its next audio is sent");
  assertEquals(mutes().map((m) => m.muted), [true, false, true]);
});

Deno.test("Pacer: a pause shorter than IDLE_MS is filled with silence, on the clock, unmuted", async () => {
  const { clock, pacer, frames, mutes } = rig();
  await pacer.push(speech(50));
  await clock.advance(150);
  await pacer.push(speech(50, 7));
  await clock.advance(1500);
  assertEquals(mutes().map((m) => m.muted), [true], "muted once, after the second part");
  const sent = frames();
  const loudAt = sent.flatMap((s, k) => loud(s.frame) ? [k] : []);
  // The second part goes out after the silence that filled the pause, frames still on the clock.
  assert(loudAt.at(-1)! - loudAt[0] + 1 > 10, "silence between the two parts");
  sent.forEach((s, k) => assert(s.at >= k * FRAME_MS - LEAD_MS, `frame ${k} early`));
});

Deno.test("Pacer: push waits while more than QUEUE_MS is queued, as the native queue did", async () => {
  const { clock, pacer } = rig();
  let taken = false;
  const pushed = pacer.push(speech(1000)).then(() => taken = true);
  await clock.advance(100);
  assert(!taken, "a second of audio is not taken at once");
  assert(pacer.queuedMs > QUEUE_MS);
  let queuedWhenTaken = Infinity;
  while (!taken) {
    await clock.advance(clock.t + FRAME_MS);
    if (taken) queuedWhenTaken = pacer.queuedMs;
  }
  await pushed;
  assert(queuedWhenTaken <= QUEUE_MS && queuedWhenTaken > QUEUE_MS - TICK_MS * 2);
});

Deno.test("Pacer: clear drops what is queued and releases its waiters; silence, then mute", async () => {
  const { clock, pacer, frames, mutes } = rig();
  const pushed = pacer.push(speech(1000));
  let drained = false;
  const playout = pacer.drained().then(() => drained = true);
  await clock.advance(100);
  assert(!drained);
  pacer.clear();
  await Promise.all([pushed, playout]);
  assertEquals(pacer.queuedMs, 0);
  await clock.advance(1000);
  const loudFrames = frames().filter((s) => loud(s.frame)).length;
  assert(loudFrames < 20, `only what was sent before the clear (${loudFrames} frames)`);
  assertEquals(mutes().map((m) => m.muted), [true]);
});

Deno.test("Pacer: drained resolves when the last audio has played, not when it left, nor at the mute", async () => {
  const { clock, pacer, frames, mutes } = rig();
  await pacer.push(speech(100));
  let drainedAt = -1;
  const playout = pacer.drained().then(() => drainedAt = clock.t);
  await clock.advance(1000);
  await playout;
  const lastLoud = frames().findLast((s) => loud(s.frame))!;
  assert(lastLoud.at < 100, "the last audio left ahead of its time");
  assertEquals(drainedAt, 100, "100 ms of audio from t = 0 has played at t = 100");
  assert(mutes()[0].at > drainedAt);
});

Deno.test("Pacer: after a stall, drained waits for the burst to play out", async () => {
  const { clock, pacer } = rig();
  const pushed = pacer.push(speech(300));
  let drainedAt = -1;
  const playout = pacer.drained().then(() => drainedAt = clock.t);
  await clock.advance(100);
  // The loop does not run from 100 to 350: the remaining audio then leaves in one burst, and a
  // listener plays it from then on, in real time.
  clock.t = 350;
  await clock.advance(2000);
  await Promise.all([pushed, playout]);
  // Sent through 140 before the stall (40 ms ahead), 160 ms more sent at 350: played at 510.
  assertEquals(drainedAt, 510);
});

Deno.test("Pacer: a stall of the event loop is caught up at once and reported with its lateness", async () => {
  const { clock, pacer, frames, runs } = rig();
  const pushed = pacer.push(speech(500));
  await clock.advance(100);
  const before = frames().length;
  // The loop does not run for 150 ms: its next wake comes late, and every frame due goes at once.
  clock.t += 150;
  await clock.advance(clock.t);
  const after = frames();
  assert(after.length - before >= 15, `caught up ${after.length - before} frames at once`);
  after.forEach((s, k) => assert(s.at >= k * FRAME_MS - LEAD_MS, `frame ${k} early`));
  await clock.advance(3000);
  await pushed;
  const [run] = runs();
  // The stall less what had been sent ahead (up to LEAD_MS and a frame).
  assert(run.maxLateMs >= 150 - LEAD_MS - FRAME_MS, `lateness ${run.maxLateMs} ms`);
  assertEquals(run.sentMs, frames().length * FRAME_MS);

  // An undisturbed stretch is never late by more than a wake.
  const quiet = rig();
  const taken = quiet.pacer.push(speech(500));
  await quiet.clock.advance(3000);
  await taken;
  assert(quiet.runs()[0].maxLateMs <= TICK_MS - LEAD_MS + FRAME_MS);
});

Deno.test("Pacer: close stops it; a later push is refused", async () => {
  const { clock, pacer, frames } = rig();
  await pacer.push(speech(100));
  await clock.advance(20);
  pacer.close();
  const count = frames().length;
  await clock.advance(1000);
  assertEquals(frames().length, count, "nothing sent after close");
  await assertRejects(() => pacer.push(speech(10)), Error, "closed");
});

Deno.test("installPacedAudio: a queue-0 rtc-node source is paced; any other keeps rtc-node's queue", async () => {
  installPacedAudio();
  const paced = new AudioSource(RATE, 1, PACED_QUEUE_MS);
  const queued = new AudioSource(RATE, 1, 200);
  try {
    const audio = speech(300);
    const frame = new AudioFrame(audio, RATE, 1, audio.length);
    const started = performance.now();
    await paced.captureFrame(frame);
    // 300 ms queued, 200 ms of it may wait: the pacer took it only once 100 ms had gone out.
    assert(paced.queuedDuration <= QUEUE_MS, `${paced.queuedDuration} ms still queued`);
    await paced.waitForPlayout();
    assertEquals(paced.queuedDuration, 0);
    // Sent in real time: the last of 300 ms went out no sooner than 300 ms minus the lead.
    const took = performance.now() - started;
    assert(took >= 300 - LEAD_MS - FRAME_MS, `300 ms of audio sent in ${took.toFixed(0)} ms`);
    // rtc-node's own source takes 100 ms whole into its native queue, and keeps its bookkeeping.
    await queued.captureFrame(new AudioFrame(speech(100), RATE, 1, 100 * PER_MS));
    const natively = originalAudioSource.queuedDuration.call(queued);
    assert(natively > 50, `${natively} ms queued natively`);
    assert(Math.abs(queued.queuedDuration - natively) <= 1);
  } finally {
    await paced.close();
    await queued.close();
  }
});
