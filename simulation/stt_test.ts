import { APIStatusError, inference, stt } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";
import { assert, assertEquals, assertInstanceOf, assertStringIncludes } from "@std/assert";
import { DEFAULT_STT_TRANSCRIPTS, type Gateway, startGateway, synthesizeVoice } from "./mod.ts";
import {
  first,
  initLogger,
  KEY,
  logged,
  nextError,
  NO_RETRY,
  SECRET,
  statusOf,
  within,
} from "../testing/simulation_support.ts";

const RATE = 16000;

function makeStt(gw: Gateway, secret = SECRET): inference.STT<"deepgram/nova-3-general"> {
  initLogger();
  return new inference.STT({
    model: "deepgram/nova-3-general",
    language: "en",
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: secret,
  });
}

function silence(ms: number): Int16Array {
  return new Int16Array(RATE * ms / 1000);
}

/** Pushes PCM as 10 ms frames at 16 kHz (the plugin's rate, so no resampler is created). */
function pushPcm(stream: stt.SpeechStream, pcm: Int16Array): void {
  const n = RATE / 100;
  for (let off = 0; off < pcm.length; off += n) {
    const part = pcm.slice(off, Math.min(off + n, pcm.length));
    stream.pushFrame(new AudioFrame(part, RATE, 1, part.length));
  }
}

/** Collects events until `stop` says so or the stream ends. */
async function readUntil(
  stream: stt.SpeechStream,
  stop: (ev: stt.SpeechEvent) => boolean,
): Promise<stt.SpeechEvent[]> {
  const seen: stt.SpeechEvent[] = [];
  for await (const ev of stream) {
    seen.push(ev);
    if (stop(ev)) break;
  }
  return seen;
}

const isFinal = (ev: stt.SpeechEvent) => ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT;

Deno.test("stt: a speech burst followed by silence yields the queued transcript", async () => {
  const gw = await startGateway({
    apiKey: KEY,
    apiSecret: SECRET,
    sttTranscripts: ["I want to leave now"],
  });
  const engine = makeStt(gw);
  const stream = engine.stream();
  try {
    const speech = synthesizeVoice("this is a spoken test sentence", RATE); // 1.8 s
    pushPcm(stream, silence(300));
    pushPcm(stream, speech);
    pushPcm(stream, silence(600));
    const seen = await within(readUntil(stream, isFinal), 10_000, "final transcript");
    const types = seen.map((e) => e.type);
    assert(types.includes(stt.SpeechEventType.START_OF_SPEECH), `events: ${types}`);
    const final = seen.at(-1)!;
    assertEquals(final.alternatives?.[0].text, "I want to leave now");
    assertEquals(final.alternatives?.[0].language, "en");
    const ev = first(gw, "stt_final");
    // The detector works on 10 ms blocks: onset and end are exact to one block.
    assert(Math.abs(ev.startS - 0.3) <= 0.011, `start ${ev.startS}`);
    assert(Math.abs(ev.durationS - speech.length / RATE) <= 0.2, `duration ${ev.durationS}`);
    const session = first(gw, "stt_session");
    assertEquals([session.model, session.sampleRate, session.language], [
      "deepgram/nova-3-general",
      RATE,
      "en",
    ]);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});

Deno.test("stt: endInput mid-speech finalizes; default transcripts; stream ends by itself", async () => {
  const gw = await startGateway();
  const engine = makeStt(gw);
  const stream = engine.stream();
  try {
    pushPcm(stream, synthesizeVoice("speaking until the very end", RATE));
    stream.endInput();
    const seen = await within(readUntil(stream, () => false), 10_000, "stream end");
    const finals = seen.filter(isFinal).map((e) => e.alternatives?.[0].text);
    assertEquals(finals, [DEFAULT_STT_TRANSCRIPTS[0]]);
    await gw.waitFor((e) => e.kind === "stt_finalize", 1_000);
    // A short click is not an utterance.
    assertEquals(logged(gw, "stt_final").length, 1);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});

Deno.test("stt: clicks and silence produce no transcript", async () => {
  const gw = await startGateway();
  const engine = makeStt(gw);
  const stream = engine.stream();
  try {
    const click = synthesizeVoice("hi", RATE).slice(0, RATE / 10); // 100 ms < 200 ms minimum
    pushPcm(stream, silence(200));
    pushPcm(stream, click);
    pushPcm(stream, silence(500));
    stream.endInput();
    const seen = await within(readUntil(stream, () => false), 10_000, "stream end");
    assertEquals(seen.filter(isFinal).length, 0);
    assertEquals(logged(gw, "stt_final").length, 0);
    assertEquals(logged(gw, "stt_closed")[0]?.audioMs, 800);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});

Deno.test("stt fault refuse: the upgrade is answered 503", async () => {
  const gw = await startGateway({ faults: { stt: "refuse" } });
  const engine = makeStt(gw);
  const stream = engine.stream({ connOptions: NO_RETRY });
  try {
    const err = nextError(engine, 5_000, "stt error event");
    await within(readUntil(stream, () => false), 5_000, "stream end");
    const e = await err;
    assertInstanceOf(e, APIStatusError);
    assertEquals(statusOf(e), 503);
    assertEquals(logged(gw, "stt_session").length, 0);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});

Deno.test("stt fault drop, injected mid-session: the socket closes under the plugin", async () => {
  const gw = await startGateway();
  const engine = makeStt(gw);
  const stream = engine.stream({ connOptions: NO_RETRY });
  try {
    const err = nextError(engine, 5_000, "stt error event");
    pushPcm(stream, silence(100));
    await gw.waitFor((e) => e.kind === "stt_session", 5_000);
    gw.faults.stt = "drop";
    gw.faults.sttDropAfterMs = 50;
    pushPcm(stream, silence(100)); // the fault is noticed on the next input_audio
    const e = await err;
    assertInstanceOf(e, APIStatusError);
    assertStringIncludes(e.message, "closed unexpectedly");
    await gw.waitFor((e) => e.kind === "fault" && e.fault === "drop", 1_000);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});

Deno.test("stt auth: a wrong secret is rejected with 401", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  const engine = makeStt(gw, "wrong-secret-wrong-secret-wrong-secret");
  const stream = engine.stream({ connOptions: NO_RETRY });
  try {
    const err = nextError(engine, 5_000, "stt error event");
    await within(readUntil(stream, () => false), 5_000, "stream end");
    assertEquals(statusOf(await err), 401);
    assertEquals(first(gw, "auth_rejected").path, "/v1/stt");
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});
