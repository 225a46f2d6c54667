/**
 * The end-of-turn model's local path on agents-js's real `inference.TurnDetector`: what 1.9.0
 * does when the local model cannot run (the cause of the 2.5 s turns), what the guard does
 * instead, and the local model loaded in this process (the real native model, offline).
 *
 * The job's inference executor is the process edge here (the worker's inference process over
 * IPC, or the console's executor that has no runner): it is stood in for by a plain object that
 * fails the way the console's does, or answers like a worker's.
 */
import { inference, type ipc } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";
import { assert, assertEquals, assertInstanceOf, assertMatch } from "@std/assert";
import { captureLogs } from "../testing/log_capture.ts";
import { until } from "../testing/wait.ts";
import { LocalEotModel } from "./local_eot_model.ts";
import {
  EOT_INFERENCE_METHOD,
  FALLBACK_PROBABILITY,
  GuardedEotExecutor,
  guardOf,
  sessionTurnDetection,
} from "./turn_detection.ts";

/** agents-js's console executor fails every request with this message. */
const CONSOLE_ERROR = "no inference runners registered; cannot run local inference";

/** The console's executor: it has no runner. */
const noRunner: ipc.InferenceExecutor = {
  doInference: () => Promise.reject(new Error(CONSOLE_ERROR)),
};

/** A worker's inference process answering a fixed probability. */
function answering(probability: number): ipc.InferenceExecutor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    doInference: (method: string) => {
      calls.push(method);
      return Promise.resolve({ probability, inferenceDurationMs: 7 });
    },
  };
}

/** One second of a 150 Hz hum at 16 kHz, then silence: something to predict on. */
function speechThenSilence(): AudioFrame[] {
  const frames: AudioFrame[] = [];
  for (let f = 0; f < 60; f++) {
    const pcm = new Int16Array(320);
    if (f < 50) { for (let i = 0; i < 320; i++) pcm[i] = 6000 * Math.sin((f * 320 + i) / 17); }
    frames.push(new AudioFrame(pcm, 16000, 1, 320));
  }
  return frames;
}

/**
 * Samples agents-js's local transport holds for the next prediction (`LocalTransport._buf`,
 * internal to agents-js 1.9.0): the stream moves pushed audio there on its own task, and a
 * prediction snapshots only what has arrived. Undefined if agents-js renamed it, and the wait
 * below then fails saying what it waited for.
 */
function bufferedSamples(stream: object): number | undefined {
  const internal = stream as { _transport?: { _buf?: { length?: unknown } } };
  const length = internal._transport?._buf?.length;
  return typeof length === "number" ? length : undefined;
}

/** One prediction through agents-js's local transport, with `executor` behind it. */
async function predictLocally(executor: ipc.InferenceExecutor): Promise<number> {
  const detector = new inference.TurnDetector({ version: "v1-mini", executor });
  const stream = detector.stream();
  try {
    const frames = speechThenSilence();
    for (const frame of frames) stream.pushAudio(frame);
    const pushed = frames.reduce((n, f) => n + f.samplesPerChannel, 0);
    await until(
      () => bufferedSamples(stream) === pushed || undefined,
      5_000,
      `agents-js's local transport to buffer the ${pushed} samples pushed`,
    );
    const event = await stream.predict().await;
    return event.endOfTurnProbability;
  } finally {
    await stream.aclose();
    await detector.aclose();
  }
}

Deno.test("agents-js 1.9.0 scores a local prediction that cannot run as 0: below every threshold, so the turn waits the maximum delay", async () => {
  using logs = captureLogs();
  const probability = await predictLocally(noRunner);
  assertEquals(probability, 0);
  assert(logs.lines.some((l) => l.msg === "local audio EOT inference (executor) failed"));
});

Deno.test("guard: a local model that cannot run answers the fallback probability (endpointing at the minimum delay), warned once", async () => {
  using logs = captureLogs();
  const guard = new GuardedEotExecutor({ primary: noRunner });
  assertEquals(await predictLocally(guard), FALLBACK_PROBABILITY);
  assertEquals(await predictLocally(guard), FALLBACK_PROBABILITY);
  const warned = logs.warnings().filter((l) => /end-of-turn model cannot answer/.test(l.msg));
  assertEquals(warned.length, 1);
  assertMatch(String(warned[0].reason), /no inference runners registered/);
  assertEquals(guard.decisions.map((d) => d.by), ["fallback", "fallback"]);
});

Deno.test("guard: a worker's inference process that answers decides (passed through untouched)", async () => {
  using logs = captureLogs();
  const worker = answering(0.2);
  const guard = new GuardedEotExecutor({ primary: worker });
  assertEquals(await predictLocally(guard), 0.2);
  assertEquals(worker.calls, [EOT_INFERENCE_METHOD]);
  assertEquals(guard.decisions, [{
    by: "model",
    where: "inference_process",
    probability: 0.2,
    ms: 7,
  }]);
  assertEquals(logs.warnings(), []);
});

Deno.test("guard: with no executor at all, the fallback answers", async () => {
  using _logs = captureLogs();
  const guard = new GuardedEotExecutor();
  const answer = await guard.doInference(EOT_INFERENCE_METHOD, { pcm: "" });
  assertEquals(answer, { probability: FALLBACK_PROBABILITY, inferenceDurationMs: 0 });
});

Deno.test("console: the local model loads in this process on first need; until then the fallback answers, then the model decides", async () => {
  using logs = captureLogs();
  const local = new LocalEotModel();
  const guard = new GuardedEotExecutor({ primary: noRunner, local });
  assertEquals(await predictLocally(guard), FALLBACK_PROBABILITY);
  assertEquals(local.state, "loading");
  await local.load();
  assertEquals(local.state, "ready", local.error);
  const probability = await predictLocally(guard);
  assert(probability >= 0 && probability <= 1 && probability !== FALLBACK_PROBABILITY);
  const last = guard.decisions.at(-1)!;
  assertEquals(last.by === "model" && last.where, "this_process");
  assert(logs.lines.some((l) => /local end-of-turn model loaded in this process/.test(l.msg)));
  assertEquals(
    logs.warnings().filter((l) => /cannot answer/.test(l.msg)).length,
    1,
    "one warning for the whole session",
  );
});

Deno.test("console: a local model that cannot load keeps the fallback and says why", async () => {
  using logs = captureLogs();
  const local = new LocalEotModel(() => "/nonexistent/local-inference/index.js");
  const guard = new GuardedEotExecutor({ primary: noRunner, local });
  assertEquals(await predictLocally(guard), FALLBACK_PROBABILITY);
  await local.load();
  assertEquals(local.state, "failed");
  assertEquals(await predictLocally(guard), FALLBACK_PROBABILITY);
  const last = guard.decisions.at(-1)!;
  assertMatch(last.by === "fallback" ? last.reason : "", /cannot load here/);
  assert(logs.warnings().some((l) => /cannot load in this process/.test(l.msg)));
});

Deno.test("console: the detector leaving the cloud starts loading the local model at once (not on a turn's reply path)", async () => {
  using logs = captureLogs();
  const detector = sessionTurnDetection("default", { executor: noRunner, localInProcess: true });
  assertInstanceOf(detector, inference.TurnDetector);
  const guard = guardOf(detector)!;
  // What agents-js's stream calls on its cloud-to-local fallback.
  (detector as inference.TurnDetector)._setModel("turn-detector-v1-mini");
  assert(logs.lines.some((l) => l.msg === "loading the local end-of-turn model in this process"));
  await until(() => guard.localState === "ready" || undefined, 30_000, "the local model");
  const answer = await guard.doInference(EOT_INFERENCE_METHOD, { pcm: "" }) as {
    probability: number;
  };
  assert(answer.probability >= 0 && answer.probability <= 1);
  assertEquals(guard.decisions.at(-1)?.by, "model");
});

Deno.test("sessionTurnDetection: vad and stt pass through; default is agents-js's detector behind a guard", () => {
  using _logs = captureLogs();
  assertEquals(sessionTurnDetection("vad"), "vad");
  assertEquals(sessionTurnDetection("stt"), "stt");
  const detector = sessionTurnDetection("default", { executor: noRunner });
  assertInstanceOf(detector, inference.TurnDetector);
  assertInstanceOf(guardOf(detector), GuardedEotExecutor);
  assertEquals(guardOf("vad"), undefined);
});
