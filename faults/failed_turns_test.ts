/**
 * A failed turn does not end the call; `MAX_FAILED_TURNS` of them in a row do
 * (`core/turn_failures.ts`). The project's agent on the REAL Inference plugins
 * against the loopback gateway, with LLM, TTS and STT faults switched on and
 * off mid-call. Each test asserts what the caller heard (the apology, the
 * goodbye), the one warning per failed turn, and how the call ended.
 *
 * Re-measure: `deno test -A faults/failed_turns_test.ts`.
 */
import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { GOODBYE } from "../agent.ts";
import { DEFAULT_APOLOGY } from "../core/config.ts";
import type { FailedTurnReport } from "../core/console_report.ts";
import { ttsDurationMs } from "../simulation/mod.ts";
import { until } from "../testing/wait.ts";
import { type FaultCall, startFaultCall } from "../testing/session_harness.ts";

const G = 1_500;
/** A failure after one attempt, so a test of three failed turns takes seconds, not 15. */
const NO_RETRY = { maxRetry: 0, retryIntervalMs: 100 } as const;
/** The apology as the stand-in TTS receives it (the plugin sends it sentence by sentence). */
const APOLOGY_SENTENCES = DEFAULT_APOLOGY.split(/(?<=\.) /);
const APOLOGY_MS = APOLOGY_SENTENCES.reduce((ms, s) => ms + ttsDurationMs(s), 0);

/** Says `text` as the user (the run may fail with the fault: that is the point). */
async function say(call: FaultCall, text: string): Promise<void> {
  await call.session.run({ userInput: text }).wait().catch(() => {});
}

function failedTurnLines(call: FaultCall) {
  return call.logs.warnings().filter((l) => l.failed_turns !== undefined);
}

function apologiesPlayed(call: FaultCall): number {
  return call.speaker.segments.filter((s) =>
    s.finished && !s.interrupted && Math.round(s.capturedMs) === APOLOGY_MS
  ).length;
}

/** Waits until the apology has been synthesized `n` times in all. */
async function apologized(call: FaultCall, n: number): Promise<void> {
  await until(
    () => call.gw.synthesized().filter((t) => t === APOLOGY_SENTENCES[1]).length >= n,
    15_000,
    `apology number ${n}`,
  );
}

Deno.test("one LLM failure: the apology is heard, the call goes on, the next turn works and resets the count", async () => {
  await using call = await startFaultCall({ faults: { llm: "error" }, goodbyeTimeoutMs: G });
  await say(call, "hello");
  await apologized(call, 1);
  assertEquals(call.gw.log.filter((e) => e.kind === "llm_request").length, 4, "4 attempts");
  const [line, ...more] = failedTurnLines(call);
  assertEquals(more, []);
  assertEquals(line.failed_turns, 1);
  assertEquals(line.max_failed_turns, 3);
  assertEquals(line.apology, "said");
  assertStringIncludes(
    String(line.msg),
    "failed turn 1 of 3 in a row; apologizing and listening on",
  );
  assertStringIncludes(String(line.error), `gateway ${call.gw.url}`);
  assertEquals(call.ending.isStarted, false, "one failed turn ended the call");

  delete call.gw.faults.llm;
  await say(call, "hello again");
  await say(call, "Okay, goodbye!");
  const { endReason } = await call.waitClosed(10_000);
  assertEquals(endReason, "end_session");
  assert(
    call.logs.lines.some((l) => l.failed_before === 1 && l.failed_turns === 0),
    "no 'a turn worked' line reset the count",
  );
  assertEquals(apologiesPlayed(call), 1, "the apology was not heard in full");
  assertEquals(call.gw.synthesized().filter((t) => t === GOODBYE).length, 1);
  assertEquals(call.endLine().goodbye, "played");
});

Deno.test("MAX_FAILED_TURNS LLM failures in a row end the call with llm_error, the cause and the goodbye", async () => {
  await using call = await startFaultCall({
    faults: { llm: "error" },
    goodbyeTimeoutMs: G,
    connOptions: { llmConnOptions: NO_RETRY },
  });
  for (let turn = 1; turn <= 2; turn++) {
    await say(call, `hello ${turn}`);
    await apologized(call, turn);
    assertEquals(call.ending.isStarted, false, `the call ended after ${turn} failed turns`);
  }
  await say(call, "hello 3");
  const { endReason } = await call.waitClosed(10_000);
  assertEquals(endReason, "llm_error");
  assertEquals(failedTurnLines(call).map((l) => [l.failed_turns, l.apology]), [
    [1, "said"],
    [2, "said"],
    [3, "none"],
  ]);
  const end = call.endLine();
  assertEquals(end.goodbye, "played");
  assertStringIncludes(String(end.cause), "the LLM failed: 500");
  assertEquals(apologiesPlayed(call), 2);
  assertEquals(call.gw.synthesized().at(-1), GOODBYE);
  assertEquals(call.job.shutdownReasons, ["llm_error"]);
  assertEquals(call.job.roomsDeleted, 0, "only end_session deletes the room");
  const reports = call.reports.filter((r): r is FailedTurnReport => r.kind === "failed_turn");
  assertEquals(reports.map((r) => r.failedTurns), [1, 2, 3]);
  assertEquals(call.reports.at(-1), {
    kind: "session_ended",
    endReason: "llm_error",
    goodbye: "played",
  });
});

Deno.test("an LLM stall counts as a failed turn; a turn that works in between resets the count", async () => {
  const idleMs = 500;
  await using call = await startFaultCall({
    faults: { llm: "stall_mid_stream" },
    goodbyeTimeoutMs: G,
    llmTimeouts: { idleMs },
    maxFailedTurns: 2,
  });
  await say(call, "hello");
  await apologized(call, 1);
  delete call.gw.faults.llm;
  await say(call, "hello again"); // works: the count goes back to 0
  call.gw.faults.llm = "stall_mid_stream";
  await say(call, "and again");
  await apologized(call, 2);
  assertEquals(call.ending.isStarted, false, "a stall after a good turn counted as the second");
  await say(call, "once more");
  assertEquals((await call.waitClosed(10_000)).endReason, "llm_error");
  assertEquals(failedTurnLines(call).map((l) => l.failed_turns), [1, 1, 2]);
  assertEquals(call.logs.warnings().filter((l) => l.stalled === "llm").length, 3);
  assertStringIncludes(String(call.endLine().error), "stopped mid-reply");
  assertEquals(call.endLine().goodbye, "played");
});

Deno.test("the TTS failing a reply: no apology (it could not be heard), the log says so, and the count advances", async () => {
  await using call = await startFaultCall({
    faults: { tts: "error" },
    goodbyeTimeoutMs: G,
    maxFailedTurns: 2,
  });
  await say(call, "hello");
  await until(() => failedTurnLines(call).length === 1, 10_000, "the failed-turn line");
  const [first] = failedTurnLines(call);
  assertEquals(first.model, "tts");
  assertEquals(first.apology, "not_heard");
  assertStringIncludes(String(first.msg), "the apology cannot be heard (the TTS is what failed)");
  await say(call, "hello?");
  assertEquals((await call.waitClosed(10_000)).endReason, "tts_error");
  assertEquals(failedTurnLines(call).map((l) => l.failed_turns), [1, 2]);
  assertEquals(
    call.gw.synthesized().filter((t) => APOLOGY_SENTENCES.includes(t)),
    [],
    "the apology was synthesized although the TTS is what failed",
  );
  assertEquals(call.endLine().goodbye, "failed");
});

Deno.test("the LLM and the TTS both down: the apology's own failure is not another turn; MAX_FAILED_TURNS user turns end the call", async () => {
  await using call = await startFaultCall({
    faults: { llm: "error", tts: "error" },
    goodbyeTimeoutMs: G,
    connOptions: { llmConnOptions: NO_RETRY },
  });
  const ttsFaults = () =>
    call.gw.log.filter((e) => e.kind === "fault" && e.target === "tts").length;
  for (let turn = 1; turn <= 2; turn++) {
    const before = ttsFaults();
    await say(call, `hello ${turn}`);
    // The apology was tried, and its synthesis failed.
    await until(() => ttsFaults() > before, 10_000, `the apology's TTS failure, turn ${turn}`);
    // Either the line saying the apology was not heard, or (the fault) one more failed turn.
    const apologyLine = () => call.logs.lines.some((l) => l.apology_failed === turn);
    await until(
      () => apologyLine() || failedTurnLines(call).length > turn,
      10_000,
      `what the agent made of apology ${turn} failing`,
    );
    assertEquals(
      failedTurnLines(call).map((l) => [l.model, l.failed_turns, l.apology]),
      Array.from({ length: turn }, (_, i) => ["llm", i + 1, "said"]),
      `after user turn ${turn}`,
    );
    assert(apologyLine(), `no line says apology ${turn} was not heard`);
    assertEquals(call.ending.isStarted, false, `the call ended after ${turn} user turns`);
  }
  await say(call, "hello 3");
  assertEquals((await call.waitClosed(10_000)).endReason, "llm_error");
  assertEquals(failedTurnLines(call).map((l) => [l.model, l.failed_turns]), [
    ["llm", 1],
    ["llm", 2],
    ["llm", 3],
  ]);
  assertEquals(apologiesPlayed(call), 0, "an apology played although the TTS is down");
});

Deno.test("the STT failing: reopened after each tolerated failure; MAX_FAILED_TURNS failures end the call with stt_error", async () => {
  await using call = await startFaultCall({
    faults: { stt: "refuse" },
    goodbyeTimeoutMs: G,
    connOptions: { sttConnOptions: NO_RETRY },
  });
  const { endReason } = await call.waitClosed(20_000);
  assertEquals(endReason, "stt_error");
  // Without plugin retries the three failures come within milliseconds, so the
  // two apologies are still queued when the ending interrupts them for the goodbye.
  assertEquals(failedTurnLines(call).map((l) => [l.model, l.failed_turns, l.apology]), [
    ["stt", 1, "said"],
    ["stt", 2, "said"],
    ["stt", 3, "none"],
  ]);
  const reopened = call.logs.lines.filter((l) => String(l.msg).startsWith("reopening the speech"));
  assertEquals(reopened.length, 2, "the STT was not reopened after each tolerated failure");
  assertEquals(
    call.gw.log.filter((e) => e.kind === "fault" && e.target === "stt").length,
    3,
    "one refused connection per STT stream",
  );
  assertEquals(call.endLine().goodbye, "played");
});

Deno.test("the STT failing once: reopened on the same audio, the call goes on", async () => {
  await using call = await startFaultCall({
    faults: { stt: "refuse", once: true },
    goodbyeTimeoutMs: G,
    connOptions: { sttConnOptions: NO_RETRY },
  });
  const fault = await call.gw.waitFor((e) => e.kind === "fault" && e.target === "stt", 10_000);
  await call.gw.waitFor((e) => e.kind === "stt_session" && e.t > fault.t, 10_000);
  await apologized(call, 1);
  assertEquals(failedTurnLines(call).map((l) => l.failed_turns), [1]);
  await say(call, "Okay, goodbye!");
  assertEquals((await call.waitClosed(10_000)).endReason, "end_session");
  assertGreater(apologiesPlayed(call), 0);
});
