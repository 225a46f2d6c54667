/**
 * The project's Silero VAD against the plugin's own, on the same audio: the same windows, the
 * same probabilities, the same speech starts and ends with the same audio; and each window
 * decided as soon as its samples are there.
 */
import { assertEquals, assertGreater } from "@std/assert";
import { initializeLogger, type VADEvent, VADEventType, type VADStream } from "@livekit/agents";
import * as silero from "@livekit/agents-plugin-silero";
import { AudioFrame } from "@livekit/rtc-node";
import { synthesizeVoice } from "../simulation/voice.ts";
import { until } from "../testing/wait.ts";
import { SileroVAD } from "./silero_vad.ts";

initializeLogger({ pretty: false, level: "warn" });

const RATE = 16_000;
const FRAME = 320; // 20 ms, as the call's input frames (core/audio_path.ts)
const WINDOW = 512;

/** Silence, an utterance, a pause long enough to end it, another utterance, silence. */
function conversation(rate: number): Int16Array {
  const parts = [
    new Int16Array(rate / 2),
    synthesizeVoice("hello there, how are you doing today", rate, 140),
    new Int16Array(rate),
    synthesizeVoice("could you tell me the time?", rate, 190),
    new Int16Array(rate),
  ];
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Collects a stream's events as they come, their audio copied: the plugin's speech frames are
 * views of its speech buffer, which it overwrites later (see {@link PREFIX}).
 */
function collect(stream: VADStream): { events: VADEvent[]; done: Promise<void> } {
  const events: VADEvent[] = [];
  const done = (async () => {
    try {
      for await (const ev of stream) {
        events.push({
          ...ev,
          frames: ev.frames.map((f) =>
            new AudioFrame(f.data.slice(), f.sampleRate, f.channels, f.samplesPerChannel)
          ),
        });
      }
    } catch { /* closed */ }
  })();
  return { events, done };
}

/**
 * The speech buffer's prefix padding (the plugin's 500 ms default). The plugin hands out its
 * END_OF_SPEECH audio as a view of its speech buffer and, in the same step, moves the last 500 ms
 * to the buffer's start for the next utterance: the event's first 500 ms are overwritten before
 * anyone reads them. The project's VAD hands out a copy, so those samples are compared apart.
 */
const PREFIX = RATE / 2;

function push(stream: VADStream, audio: Int16Array, rate: number, frame: number): void {
  for (let at = 0; at + frame <= audio.length; at += frame) {
    stream.pushFrame(new AudioFrame(audio.slice(at, at + frame), rate, 1, frame));
  }
}

/** The values an event carries, its audio included (the timing of the inference left out). */
function values(ev: VADEvent) {
  return {
    type: ev.type,
    samplesIndex: ev.samplesIndex,
    timestamp: ev.timestamp,
    speechDuration: ev.speechDuration,
    silenceDuration: ev.silenceDuration,
    probability: ev.probability,
    speaking: ev.speaking,
    rawAccumulatedSilence: ev.rawAccumulatedSilence,
    rawAccumulatedSpeech: ev.rawAccumulatedSpeech,
    frames: ev.frames.map((f) => [
      f.sampleRate,
      f.samplesPerChannel,
      Array.from(ev.type === VADEventType.END_OF_SPEECH ? f.data.subarray(PREFIX) : f.data),
    ]),
  };
}

async function both(rate: number, frame: number) {
  const audio = conversation(rate);
  const windows = Math.floor(audio.length / frame) * frame * RATE / rate / WINDOW | 0;
  const plugin = (await silero.VAD.load()).stream();
  const ours = (await SileroVAD.load()).stream();
  const a = collect(plugin);
  const b = collect(ours);
  push(plugin, audio, rate, frame);
  push(ours, audio, rate, frame);
  // The plugin may hold its last windows back (see silero_vad.ts): more silence lets them run.
  push(plugin, new Int16Array(rate / 2), rate, frame);
  const inferences = (x: { events: VADEvent[] }) =>
    x.events.filter((e) => e.type === VADEventType.INFERENCE_DONE);
  await until(() => inferences(b).length >= windows || undefined, 20_000, "our windows");
  await until(() => inferences(a).length >= windows || undefined, 20_000, "the plugin's windows");
  plugin.close();
  ours.close();
  await Promise.all([a.done, b.done]);
  // Up to the last window of the conversation itself.
  const upTo = (events: VADEvent[]) => {
    let n = 0;
    return events.filter((e) => (e.type === VADEventType.INFERENCE_DONE ? ++n : n) <= windows);
  };
  return { plugin: upTo(a.events), ours: upTo(b.events), windows };
}

Deno.test("SileroVAD: the plugin's events, value for value, on a conversation in 20 ms frames", async () => {
  const { plugin, ours, windows } = await both(RATE, FRAME);
  const kinds = (evs: VADEvent[]) => evs.filter((e) => e.type !== VADEventType.INFERENCE_DONE);
  // Two utterances heard: two starts and two ends.
  assertEquals(kinds(ours).map((e) => e.type), [
    VADEventType.START_OF_SPEECH,
    VADEventType.END_OF_SPEECH,
    VADEventType.START_OF_SPEECH,
    VADEventType.END_OF_SPEECH,
  ]);
  assertGreater(windows, 150);
  assertEquals(ours.length, plugin.length);
  for (let i = 0; i < ours.length; i++) {
    assertEquals(values(ours[i]), values(plugin[i]), `event ${i}`);
  }
  // Our END_OF_SPEECH audio is the utterance as heard: it begins as its START_OF_SPEECH did.
  const [start, end] = kinds(ours);
  assertEquals(
    Array.from(end.frames[0].data.subarray(0, PREFIX)),
    Array.from(start.frames[0].data.subarray(0, PREFIX)),
  );
});

Deno.test("SileroVAD: with the input at another rate (resampled for the model), the same speech starts and ends", async () => {
  const { plugin, ours } = await both(24_000, 480);
  const marks = (evs: VADEvent[]) =>
    evs.filter((e) => e.type !== VADEventType.INFERENCE_DONE).map((e) => [
      e.type,
      e.samplesIndex,
    ]);
  assertEquals(marks(ours).length, 4);
  assertEquals(marks(ours), marks(plugin));
});

Deno.test("SileroVAD: every window is decided as soon as its samples are there", async () => {
  const vad = await SileroVAD.load();
  const stream = vad.stream();
  const got = collect(stream);
  const audio = conversation(RATE).subarray(0, 50 * FRAME);
  push(stream, audio, RATE, FRAME);
  // 50 frames of 320 samples hold 31 whole windows of 512: all 31 run with no more audio.
  const whole = Math.floor(audio.length / WINDOW);
  await until(
    () =>
      got.events.filter((e) => e.type === VADEventType.INFERENCE_DONE).length >= whole ||
      undefined,
    20_000,
    `${whole} windows from ${audio.length} samples`,
  );
  stream.close();
  await got.done;
  assertEquals(got.events.filter((e) => e.type === VADEventType.INFERENCE_DONE).length, whole);
});

Deno.test("SileroVAD: a closed stream is forgotten, so a VAD shared by many calls does not keep their buffers", async () => {
  const vad = await SileroVAD.load();
  const streams = [vad.stream(), vad.stream(), vad.stream()];
  assertEquals(vad.openStreams, 3);
  streams[0].close();
  streams[2].close();
  streams[2].close();
  assertEquals(vad.openStreams, 1);
  streams[1].close();
  assertEquals(vad.openStreams, 0);
});
