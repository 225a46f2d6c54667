import { inference } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { type Gateway, startGateway, synthesizeVoice, ttsDurationMs } from "./mod.ts";
import { initLogger, KEY, logged, SECRET, within } from "./test_support.ts";
import { DEFAULT_EOT_THRESHOLD } from "./turn_detector.ts";
import { until } from "../testbed/wait.ts";

const RATE = 16000;

/** The real agents-js cloud turn detector (`turn-detector-v1`), pointed at `gw`. */
function makeDetector(gw: Gateway): inference.TurnDetector {
  initLogger();
  return new inference.TurnDetector({
    version: "v1",
    baseUrl: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
    sampleRate: RATE,
  });
}

type Stream = ReturnType<inference.TurnDetector["stream"]>;

/** Pushes PCM as 10 ms frames at 16 kHz. */
function pushPcm(stream: Stream, pcm: Int16Array): void {
  const n = RATE / 100;
  for (let off = 0; off < pcm.length; off += n) {
    const part = pcm.slice(off, Math.min(off + n, pcm.length));
    stream.pushAudio(new AudioFrame(part, RATE, 1, part.length));
  }
}

/** Resolves once the client has adopted the thresholds of `session_created` (bounded). */
async function sessionReady(stream: Stream, threshold: number): Promise<void> {
  await until(
    () => stream.thresholdsOptions.defaultThreshold === threshold || undefined,
    10_000,
    `the detector adopting threshold ${threshold}`,
  );
}

async function closeAll(stream: Stream, detector: inference.TurnDetector, gw: Gateway) {
  await stream.aclose();
  await detector.aclose();
  await gw.close();
}

Deno.test("eot: the JS cloud detector adopts the announced threshold and gets the scripted prediction", async () => {
  const gw = await startGateway({
    apiKey: KEY,
    apiSecret: SECRET,
    turnDetector: { probability: 0.87, threshold: 0.42 },
  });
  const detector = makeDetector(gw);
  const stream = detector.stream();
  try {
    await sessionReady(stream, 0.42);
    assertEquals(logged(gw, "eot_session")[0].sampleRate, RATE);
    pushPcm(stream, synthesizeVoice("are you still there", RATE));
    const ev = await within(stream.predict().await, 5_000, "eot prediction");
    assertAlmostEquals(ev.endOfTurnProbability, 0.87, 1e-6);
    // Still the cloud model: no fallback to the local one happened on the way.
    assertEquals(stream.model, "turn-detector-v1");
    const [p] = logged(gw, "eot_prediction");
    assert(p.requestId.length > 0, "the request id is echoed");
    assertEquals(p.probability, 0.87);
  } finally {
    await closeAll(stream, detector, gw);
  }
});

Deno.test("eot: predictions in order from a function of the request; a flush ends the turn's audio", async () => {
  const gw = await startGateway({
    apiKey: KEY,
    apiSecret: SECRET,
    turnDetector: { probability: (r) => (r.index === 2 ? 0.9 : 0.1) },
  });
  const detector = makeDetector(gw);
  const stream = detector.stream();
  try {
    await sessionReady(stream, DEFAULT_EOT_THRESHOLD);
    pushPcm(stream, synthesizeVoice("one two three", RATE));
    const a = await within(stream.predict().await, 5_000, "first prediction");
    const b = await within(stream.predict().await, 5_000, "second prediction");
    const c = await within(stream.predict().await, 5_000, "third prediction");
    assertEquals([a, b, c].map((e) => e.endOfTurnProbability), [0.1, 0.9, 0.1].map(Math.fround));
    // The flush travels behind the audio (same queue), so it counts all of it, exactly.
    stream.flush("turn committed");
    const flush = await gw.waitFor((e) => e.kind === "eot_flush", 5_000);
    assertEquals(flush.kind === "eot_flush" && flush.audioMs, ttsDurationMs("one two three"));
    pushPcm(stream, new Int16Array(RATE / 5));
    stream.flush("next turn");
    await until(() => logged(gw, "eot_flush").length >= 2 || undefined, 5_000, "second flush");
    assertEquals(logged(gw, "eot_flush").map((e) => e.audioMs), [
      ttsDurationMs("one two three"),
      200,
    ]);
  } finally {
    await closeAll(stream, detector, gw);
  }
});

Deno.test("eot: unset, /eot answers 404 (the plugins fall back to their local model)", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  try {
    const res = await fetch(`${gw.url}/eot`);
    await res.body?.cancel();
    assertEquals(res.status, 404);
    assertEquals(logged(gw, "not_found").map((e) => e.path), ["/v1/eot"]);
  } finally {
    await gw.close();
  }
});

Deno.test("eot: served, it still wants the gateway's Bearer token", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET, turnDetector: {} });
  try {
    const res = await fetch(`${gw.url}/eot`, {
      headers: { upgrade: "websocket", connection: "upgrade" },
    });
    await res.body?.cancel();
    assertEquals(res.status, 401);
    assertEquals(logged(gw, "auth_rejected")[0].reason, "missing Authorization header");
  } finally {
    await gw.close();
  }
});
