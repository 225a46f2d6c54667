import { APIError, APIStatusError, APITimeoutError, inference, tts } from "@livekit/agents";
import { assert, assertEquals, assertInstanceOf, assertStringIncludes } from "@std/assert";
import { type Gateway, startGateway, ttsDurationMs, ttsSampleCount } from "./mod.ts";
import {
  first,
  initLogger,
  KEY,
  logged,
  nextError,
  NO_RETRY,
  SECRET,
  within,
} from "../testing/simulation_support.ts";

const VOICE = "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc";

function makeTts(gw: Gateway, sampleRate = 24000): inference.TTS<"cartesia/sonic-3"> {
  initLogger();
  return new inference.TTS({
    model: "cartesia/sonic-3",
    voice: VOICE,
    sampleRate,
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
  });
}

interface Heard {
  samples: number;
  sampleRate: number;
  peak: number;
}

/** Synthesizes `text` through the real plugin and counts what comes back. */
async function synthesize(
  engine: inference.TTS<"cartesia/sonic-3">,
  text: string,
  connOptions?: typeof NO_RETRY,
): Promise<Heard> {
  const stream = engine.stream(connOptions ? { connOptions } : undefined);
  const heard: Heard = { samples: 0, sampleRate: 0, peak: 0 };
  try {
    stream.pushText(text);
    stream.endInput();
    for await (const ev of stream) {
      if (ev === tts.SynthesizeStream.END_OF_STREAM) continue;
      heard.samples += ev.frame.samplesPerChannel;
      heard.sampleRate = ev.frame.sampleRate;
      for (const s of ev.frame.data) heard.peak = Math.max(heard.peak, Math.abs(s));
    }
  } finally {
    stream.close();
  }
  return heard;
}

Deno.test("tts: audio length is ttsDurationMs(text), at the requested sample rate", async () => {
  const gw = await startGateway({
    apiKey: KEY,
    apiSecret: SECRET,
    latency: { ttsFirstAudioMs: 20 },
  });
  const engine = makeTts(gw);
  try {
    const text = "It was nice talking to you.";
    const heard = await within(synthesize(engine, text), 10_000, "synthesis");
    assertEquals(gw.synthesized(), [text]);
    assertEquals(heard.sampleRate, 24000);
    assertEquals(heard.samples, ttsSampleCount(text, 24000));
    assertEquals(heard.samples / 24, ttsDurationMs(text)); // 24 samples per ms
    assert(heard.peak > 3000, `voice is audible (peak ${heard.peak})`);
    const session = first(gw, "tts_session");
    assertEquals([session.model, session.voice, session.sampleRate], [
      "cartesia/sonic-3",
      VOICE,
      24000,
    ]);
    const audio = first(gw, "tts_audio");
    assertEquals(audio.texts, [text]);
    assertEquals(audio.durationMs, ttsDurationMs(text));
    assertEquals(audio.firstAudioLatencyMs, 20);
  } finally {
    await engine.close();
    await gw.close();
  }
});

Deno.test("tts: several sentences on one pooled socket, in order", async () => {
  const gw = await startGateway();
  const engine = makeTts(gw, 16000);
  try {
    const a = await within(
      synthesize(engine, "Hello there, welcome to the demo. How can I help you today?"),
      10_000,
      "synthesis 1",
    );
    const said = gw.synthesized();
    assertEquals(said.join(" "), "Hello there, welcome to the demo. How can I help you today?");
    assertEquals(a.samples, said.reduce((n, t) => n + ttsSampleCount(t, 16000), 0));
    const b = await within(synthesize(engine, "Goodbye!"), 10_000, "synthesis 2");
    assertEquals(b.samples, ttsSampleCount("Goodbye!", 16000));
    assertEquals(gw.synthesized().at(-1), "Goodbye!");
    assertEquals(logged(gw, "tts_session").length, 1, "the plugin reuses its pooled socket");
    assertEquals(logged(gw, "tts_audio").length, 2);
  } finally {
    await engine.close();
    await gw.close();
  }
});

Deno.test("tts fault error, injected mid-session: APIError on the next sentence", async () => {
  const gw = await startGateway();
  const engine = makeTts(gw);
  try {
    await within(synthesize(engine, "First sentence works."), 10_000, "synthesis 1");
    gw.faults.tts = "error";
    const err = nextError(engine, 5_000, "tts error event");
    const heard = await within(
      synthesize(engine, "This one fails.", NO_RETRY),
      10_000,
      "synthesis 2",
    );
    assertEquals(heard.samples, 0);
    const e = await err;
    assertInstanceOf(e, APIError);
    assertStringIncludes(e.message, "injected TTS error");
  } finally {
    await engine.close();
    await gw.close();
  }
});

Deno.test("tts fault drop_mid_audio: partial audio, then connection closed", async () => {
  const gw = await startGateway({ faults: { tts: "drop_mid_audio" } });
  const engine = makeTts(gw);
  try {
    const err = nextError(engine, 5_000, "tts error event");
    const text = "This sentence is long enough to be cut in the middle of its audio.";
    const heard = await within(synthesize(engine, text, NO_RETRY), 10_000, "synthesis");
    const e = await err;
    assertInstanceOf(e, APIStatusError);
    assertStringIncludes(e.message, "closed unexpectedly");
    assert(heard.samples < ttsSampleCount(text, 24000), "only part of the audio arrived");
    await gw.waitFor((e) => e.kind === "fault" && e.fault === "drop_mid_audio", 1_000);
  } finally {
    await engine.close();
    await gw.close();
  }
});

Deno.test("tts fault never_answer: the plugin's recv idle timeout fires", async () => {
  const gw = await startGateway({ faults: { tts: "never_answer" } });
  const engine = makeTts(gw);
  try {
    const err = nextError(engine, 5_000, "tts error event");
    const heard = await within(
      synthesize(engine, "Nobody will answer this.", { ...NO_RETRY, timeoutMs: 300 }),
      10_000,
      "synthesis",
    );
    assertEquals(heard.samples, 0);
    assertInstanceOf(await err, APITimeoutError);
    assertEquals(logged(gw, "tts_audio").length, 0);
  } finally {
    await engine.close();
    await gw.close();
  }
});
