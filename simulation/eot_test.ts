/**
 * The simulated end-of-turn model, driven by agents-js's real cloud turn detector
 * (`inference.TurnDetector`, `turn-detector-v1`, its `CloudTransport` over a real websocket), and
 * each fault of `/eot` as that detector meets it: it gives up on the cloud and falls back to the
 * local model, which here (no inference process) is the project's guard answering the fallback.
 */
import { asLanguageCode, inference } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";
import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { captureLogs } from "../testing/log_capture.ts";
import { FALLBACK_PROBABILITY, GuardedEotExecutor } from "../core/turn_detection.ts";
import {
  DEFAULT_EOT_PROBABILITY,
  DEFAULT_EOT_THRESHOLD,
  type EotFault,
  type Gateway,
  type GatewayOptions,
  startGateway,
} from "./mod.ts";
import { KEY, SECRET, within } from "../testing/simulation_support.ts";

function frames(n: number): AudioFrame[] {
  return Array.from({ length: n }, (_, f) => {
    const pcm = new Int16Array(320);
    for (let i = 0; i < 320; i++) pcm[i] = 5000 * Math.sin((f * 320 + i) / 13);
    return new AudioFrame(pcm, 16000, 1, 320);
  });
}

/** A cloud detector pointed at the simulation, with the guard behind its local fallback. */
async function withDetector(
  options: Partial<GatewayOptions>,
  fn: (
    gw: Gateway,
    stream: inference.TurnDetectorStreamImpl,
    detector: inference.TurnDetector,
  ) => Promise<void>,
): Promise<void> {
  const gw = await startGateway({ ...options, apiKey: KEY, apiSecret: SECRET });
  const detector = new inference.TurnDetector({
    version: "v1",
    baseUrl: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
    connOptions: { maxRetry: 0, retryIntervalMs: 10, timeoutMs: 2_000 },
    executor: new GuardedEotExecutor(),
  });
  const stream = detector.stream() as inference.TurnDetectorStreamImpl;
  try {
    for (const f of frames(40)) stream.pushAudio(f);
    await fn(gw, stream, detector);
  } finally {
    await stream.aclose();
    await detector.aclose();
    await gw.close();
  }
}

Deno.test("eot: the cloud detector connects, adopts the simulation's threshold and gets its probability for its request", async () => {
  using _logs = captureLogs();
  await withDetector({ eot: { latencyMs: 40 } }, async (gw, stream) => {
    await gw.waitFor((e) => e.kind === "eot_session", 5_000);
    const event = await within(stream.predict().await, 5_000, "a prediction");
    assertEquals(Math.fround(event.endOfTurnProbability), Math.fround(DEFAULT_EOT_PROBABILITY));
    assertEquals(event.inferenceDuration, 40);
    assertEquals(await stream.unlikelyThreshold(asLanguageCode("en")), DEFAULT_EOT_THRESHOLD);
    assertEquals(stream.model, "turn-detector-v1");
    const request = gw.log.find((e) => e.kind === "eot_request");
    const answer = gw.log.find((e) => e.kind === "eot_prediction");
    if (request?.kind !== "eot_request" || answer?.kind !== "eot_prediction") {
      throw new Error("the simulation logged no request and answer");
    }
    assertEquals(answer.requestId, request.requestId);
    assertGreaterOrEqual(request.audioMs, 0);
  });
});

Deno.test("eot: a configured probability (the model says the user is not done) is what the detector gets", async () => {
  using _logs = captureLogs();
  await withDetector({ eot: { probability: 0.1, threshold: 0.3 } }, async (gw, stream) => {
    await gw.waitFor((e) => e.kind === "eot_session", 5_000);
    const event = await within(stream.predict().await, 5_000, "a prediction");
    assertEquals(Math.fround(event.endOfTurnProbability), Math.fround(0.1));
    assertEquals(await stream.unlikelyThreshold(asLanguageCode("en")), 0.3);
  });
});

for (const fault of ["not_found", "refuse", "error", "drop"] as EotFault[]) {
  Deno.test(`eot fault ${fault}: the detector falls back to the local model; with none in this process the guard's fallback answers`, async () => {
    using logs = captureLogs();
    await withDetector({ faults: { eot: fault } }, async (gw, stream) => {
      // Refusals fire at the connection; error and drop once the first request comes.
      await gw.waitFor((e) => e.kind === "fault" || e.kind === "eot_session", 5_000);
      // The first request may meet the failure itself (answered with agents-js's default 1)
      // or come after the swap (answered by the guard): both end the turn at the minimum delay.
      const first = await within(stream.predict().await, 5_000, "a prediction");
      assertEquals(first.endOfTurnProbability, FALLBACK_PROBABILITY);
      const deadline = Date.now() + 5_000;
      while (stream.model !== "turn-detector-v1-mini" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(stream.model, "turn-detector-v1-mini");
      const next = await within(stream.predict().await, 5_000, "a prediction after the swap");
      assertEquals(next.endOfTurnProbability, FALLBACK_PROBABILITY);
      assert(
        logs.warnings().some((l) => /cloud turn detector failed/.test(l.msg)),
        "agents-js says it left the cloud",
      );
    });
  });
}

Deno.test("eot fault never_answer: a request nobody answers is given up as agents-js does after its timeout, and the local fallback takes over", async () => {
  using _logs = captureLogs();
  await withDetector({ faults: { eot: "never_answer" } }, async (gw, stream) => {
    await gw.waitFor((e) => e.kind === "eot_session", 5_000);
    const pending = stream.predict();
    await gw.waitFor((e) => e.kind === "fault" && e.fault === "never_answer", 5_000);
    assert(!pending.done);
    // What audio_recognition does when `predictionTimeout` (1 s) passes without an answer.
    stream.cancelInference({ timedOut: true });
    assertEquals(stream.model, "turn-detector-v1-mini");
    const next = await within(stream.predict().await, 5_000, "a prediction after the swap");
    assertEquals(next.endOfTurnProbability, FALLBACK_PROBABILITY);
  });
});
