/**
 * The warm-up a job process runs before its first call: the rehearsed turn goes through the
 * agent's real session and the real Inference plugins against the simulation, is bounded, and a
 * warm-up that fails never fails the process's prewarm.
 */
import { assertEquals, assertGreater, assertRejects } from "@std/assert";
import { initializeLogger, JobProcess } from "@livekit/agents";
import { warmCall } from "../agent.ts";
import { prewarm, type PrewarmData } from "../prewarm.ts";
import { captureLogs } from "../testing/log_capture.ts";
import { rehearseCall, warmProtobufTypes, warmUp } from "./warm_up.ts";

initializeLogger({ pretty: false, level: "warn" });
const proc = new JobProcess<PrewarmData>();
await prewarm(proc);

Deno.test("warmCall: the agent's own session answers a rehearsed hello, spoken through the TTS, and says its goodbye", async () => {
  const { speechSeconds } = await warmCall(proc);
  // The simulation's reply to "hello" and the agent's "Goodbye!" at close, as audio.
  assertGreater(speechSeconds, 0.5);
});

Deno.test("rehearseCall: a turn that does not end in time fails the rehearsal, and everything it started is closed", async () => {
  await assertRejects(
    () =>
      rehearseCall(() => {
        throw new Error("no parts");
      }),
    Error,
    "no parts",
  );
  const { GoodbyeAgent } = await import("../agent.ts");
  const { CallEnding } = await import("../core/ending.ts");
  const { createSession, inferenceModels, closeModels } = await import("../core/session.ts");
  await assertRejects(
    () =>
      rehearseCall((gateway) => {
        const ending = new CallEnding();
        const models = inferenceModels({
          sttModel: "deepgram/nova-3",
          llmModel: "openai/gpt-4.1-mini",
          ttsModel: "cartesia/sonic-3",
          ttsVoice: "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
        }, gateway);
        return {
          session: createSession({ ...models, vad: proc.userData.vad! }, "vad", ending),
          agent: new GoodbyeAgent({ ending, gatewayUrl: gateway.baseURL }),
          close: () => closeModels(models),
        };
      }, 1),
    Error,
    "did not end in 1 ms",
  );
});

Deno.test("warmUp: a warm-up that fails is logged at debug and never fails the prewarm", async () => {
  using logs = captureLogs("debug");
  await warmUp(() => Promise.reject(new Error("rehearsal refused")));
  const line = logs.lines.find((l) => l.msg.startsWith("warm-up for the first call failed"));
  assertEquals(line?.error, "Error: rehearsal refused");
});

Deno.test("warmUp: a warm-up that hangs is given up at its bound, so the process still meets agents-js's start-up bound", async () => {
  using logs = captureLogs("warn");
  // A rehearsal that never ends (no timer of its own: nothing is left behind).
  await warmUp(() => new Promise(() => {}), 50);
  const line = logs.lines.find((l) =>
    l.msg.startsWith("the warm-up for the first call did not end")
  );
  assertEquals(line?.timeout_ms, 50);
});

Deno.test("warmProtobufTypes: every FFI message type's field list is built", async () => {
  const ffi = await import("@livekit/rtc-ffi-bindings");
  // protobuf-es v1 normalizes a type's fields on first use and keeps them in `fields.all`.
  const types = Object.values(ffi).filter((v) =>
    typeof v === "function" && typeof (v as { typeName?: unknown }).typeName === "string"
  ) as unknown as { fields: { all?: unknown[] } }[];
  assertEquals(warmProtobufTypes(), types.length);
  assertGreater(types.length, 100);
  assertEquals(types.filter((t) => t.fields.all === undefined).length, 0);
});
