/**
 * Faults on the goodbye path, at session level: the project's agent, tool and
 * job glue on the REAL `inference.STT/LLM/TTS` plugins, against the loopback
 * gateway stand-in with a fault injected per test. Each test asserts how the
 * session ended (the one `session ended` line and its `end_reason`), what the
 * user heard, the warning that explains it, and that `Close` came within the
 * code's own bound (`core/bounds.ts`).
 *
 * Re-measure: `deno test -A faults/session_test.ts` (each test prints
 * `closed in N ms (bound B ms)`).
 */
import { voice } from "@livekit/agents";
import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import { GOODBYE } from "../agent.ts";
import { closeBoundMs, LIBRARY_CLOSE_COMMIT_MS, maxGoodbyeTimeoutMs } from "../core/bounds.ts";
import { type LlmBrain, OFFLINE_GOODBYE_TEXT, ttsDurationMs } from "../simulation/mod.ts";
import { LibraryShutdownJob, type PlayedSegment } from "../testing/fakes/session_fakes.ts";
import { startCpuLoad } from "../testing/cpu_load.ts";
import { until } from "../testing/wait.ts";
import { type FaultCall, startFaultCall } from "../testing/session_harness.ts";

/** Goodbye bound used by these tests (production: GOODBYE_TIMEOUT_MS, 10 s). */
const G = 1_500;
/**
 * agents-js's retry budget for a failing model with the default connOptions:
 * 4 attempts, 0.1 + 2 + 2 s apart, each failing fast on loopback.
 */
const RETRY_BUDGET_MS = 100 + 2_000 + 2_000 + 4 * 200;

/** The reply to any user message: only the tool call, so the goodbye is the only synthesis. */
const toolOnly = (args = "{}", times = 1): LlmBrain => () => ({
  toolCalls: Array.from({ length: times }, () => ({ name: "end_session", arguments: args })),
});

/**
 * Allowance for timer and event-loop scheduling on top of the code's bounds,
 * which are timers themselves: each stage adds a few ms of work after its
 * timer fires (measured: under 50 ms in total on loopback). Generous, so a
 * loaded 2-core CI machine does not fail a bound that holds; still far below
 * any other stage's bound, so a missing bound still fails.
 */
const SCHEDULING_MS = 1_000;

/**
 * Says `text` as the user and waits for the session to close. Returns ms from
 * the start of the ending (the `end_session` call when there was one, else the
 * user's turn) to `Close`, asserted under `boundMs` + {@link SCHEDULING_MS}.
 */
async function sayAndWaitClosed(call: FaultCall, text: string, boundMs: number): Promise<number> {
  const t0 = performance.now();
  // The run may fail with the fault (that is the point); its outcome is the close.
  const run = call.session.run({ userInput: text }).wait().catch(() => {});
  const { at } = await call.waitClosed(boundMs + 5_000);
  await run;
  const toolCall = call.gw.log.find((e) => e.kind === "llm_tool_call" && e.t >= t0);
  const ms = Math.round(at - (toolCall?.t ?? t0));
  console.log(`closed in ${ms} ms (bound ${boundMs} ms)`);
  assertLess(ms, boundMs + SCHEDULING_MS, `closed in ${ms} ms, past the bound of ${boundMs} ms`);
  return ms;
}

/** The goodbye as played: the last segment, once the TTS was asked to say "Goodbye!". */
function goodbyeSegment(call: FaultCall): PlayedSegment | undefined {
  return call.gw.synthesized().includes(GOODBYE) ? call.speaker.segments.at(-1) : undefined;
}

function assertGoodbyeHeardInFull(call: FaultCall): void {
  const seg = goodbyeSegment(call);
  if (!seg) {
    throw new Error(`no goodbye played; synthesized ${JSON.stringify(call.gw.synthesized())}`);
  }
  assert(seg.finished && !seg.interrupted, "the goodbye was cut short");
  assertEquals(Math.round(seg.capturedMs), ttsDurationMs(GOODBYE));
}

function warning(call: FaultCall, pred: (l: Record<string, unknown>) => boolean) {
  const w = call.logs.warnings().find(pred);
  if (!w) throw new Error(`no such warning in ${JSON.stringify(call.logs.warnings())}`);
  return w;
}

function assertNoUnhandledError(call: FaultCall): void {
  // ERR_UNHANDLED_ERROR is what a session `error` event nobody listens to turns into.
  const bad = call.logs.lines.filter((l) => JSON.stringify(l).includes("ERR_UNHANDLED_ERROR"));
  assertEquals(bad, []);
}

// ---------------------------------------------------------------- LLM

// With MAX_FAILED_TURNS=1 the first failed turn ends the call: the close path of a model
// failure, bounded. (Failed turns below the limit: faults/failed_turns_test.ts.)

Deno.test("LLM answers 500 on the goodbye turn: retried, then (MAX_FAILED_TURNS=1) the session closes with llm_error and still says goodbye", async () => {
  await using call = await startFaultCall({
    faults: { llm: "error" },
    goodbyeTimeoutMs: G,
    maxFailedTurns: 1,
  });
  await sayAndWaitClosed(call, "Okay, goodbye!", RETRY_BUDGET_MS + closeBoundMs(G, 0));
  assertEquals(call.gw.log.filter((e) => e.kind === "llm_request").length, 4, "4 attempts");
  assertEquals(call.endLine().end_reason, "llm_error");
  assertEquals(call.endLine().goodbye, "played");
  assertGoodbyeHeardInFull(call);
  assertEquals(call.job.shutdownReasons, ["llm_error"]);
  assertEquals(call.job.roomsDeleted, 0, "only an agent-initiated end_session deletes the room");
  assertNoUnhandledError(call);
});

Deno.test("LLM stream stalls mid-reply: the watchdog cancels it, the session closes with llm_error, the goodbye plays", async () => {
  const idleMs = 1_000;
  await using call = await startFaultCall({
    faults: { llm: "stall_mid_stream" },
    goodbyeTimeoutMs: G,
    llmTimeouts: { idleMs },
    maxFailedTurns: 1,
  });
  await sayAndWaitClosed(call, "Okay, goodbye!", idleMs + closeBoundMs(G, 0));
  const w = warning(call, (l) => l.stalled === "llm");
  assertEquals(w.llm_stall, "idle");
  assertEquals(call.endLine().end_reason, "llm_error");
  assert(String(call.endLine().error).includes("stopped mid-reply"));
  assertGoodbyeHeardInFull(call);
  assertNoUnhandledError(call);
});

Deno.test("LLM stream dropped mid-reply: the session closes with llm_error, the goodbye plays", async () => {
  await using call = await startFaultCall({
    faults: { llm: "drop_mid_stream" },
    goodbyeTimeoutMs: G,
    maxFailedTurns: 1,
  });
  await sayAndWaitClosed(call, "Okay, goodbye!", RETRY_BUDGET_MS + closeBoundMs(G, 0));
  assertEquals(call.endLine().end_reason, "llm_error");
  assertGoodbyeHeardInFull(call);
  assertNoUnhandledError(call);
});

Deno.test("end_session with malformed arguments still ends the call, with one goodbye", async () => {
  await using call = await startFaultCall({
    brain: toolOnly('{"reason": "dup'),
    goodbyeTimeoutMs: G,
  });
  await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.gw.synthesized(), [GOODBYE]);
  assertGoodbyeHeardInFull(call);
});

Deno.test("end_session twice in one turn: one goodbye, one close", async () => {
  await using call = await startFaultCall({ brain: toolOnly("{}", 2), goodbyeTimeoutMs: G });
  let closes = 0;
  call.session.on(voice.AgentSessionEventTypes.Close, () => closes++);
  await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.gw.synthesized(), [GOODBYE]);
  assertEquals(closes, 1);
  assertEquals(call.job.shutdownReasons, ["end_session"]);
});

// ---------------------------------------------------------------- TTS

Deno.test("TTS never answers the goodbye: abandoned at its bound with a warning naming the TTS; the call still ends", async () => {
  await using call = await startFaultCall({
    brain: toolOnly(),
    faults: { tts: "never_answer" },
    goodbyeTimeoutMs: G,
  });
  const ms = await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  assertGreater(ms, G, "closed before the goodbye bound: it was not waited for");
  assertEquals(warning(call, (l) => l.stalled !== undefined).stalled, "tts");
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.endLine().goodbye, "timed_out");
  assertEquals(call.job.shutdownReasons, ["end_session"]);
});

Deno.test("TTS answers the goodbye with an error: tried once more, then the call ends anyway, explained", async () => {
  await using call = await startFaultCall({
    brain: toolOnly(),
    faults: { tts: "error" },
    goodbyeTimeoutMs: G,
  });
  await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  assertEquals(call.gw.synthesized(), [GOODBYE, GOODBYE], "one retry of the goodbye");
  const w = warning(call, (l) => l.heard === "none");
  assertEquals(w.stalled, "tts");
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.endLine().goodbye, "failed");
  assertEquals(call.job.shutdownReasons, ["end_session"]);
});

Deno.test("TTS fails the goodbye once: the second try is heard in full", async () => {
  await using call = await startFaultCall({
    brain: toolOnly(),
    faults: { tts: "error", once: true },
    goodbyeTimeoutMs: G,
  });
  await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  assertEquals(call.endLine().goodbye, "played");
  assertGoodbyeHeardInFull(call);
});

Deno.test("TTS socket drops in the middle of Goodbye!: the part synthesized is played, reported as partial, then the call ends", async () => {
  await using call = await startFaultCall({
    brain: toolOnly(),
    faults: { tts: "drop_mid_audio" },
    goodbyeTimeoutMs: G,
  });
  await sayAndWaitClosed(call, "bye", closeBoundMs(G, 0));
  const seg = goodbyeSegment(call);
  if (!seg?.finished) throw new Error("the partial goodbye was not played out");
  assertGreater(seg.playedMs, 0);
  assertLess(seg.capturedMs, ttsDurationMs(GOODBYE), "more than the part before the drop?");
  assertEquals(call.endLine().end_reason, "end_session");
  // Not "played": agents-js's retry would have ended the stream in silence and hidden the drop.
  assertEquals(call.endLine().goodbye, "partial");
  assertEquals(call.gw.synthesized(), [GOODBYE], "a partly heard goodbye is not said again");
});

// ---------------------------------------------------------------- STT

Deno.test("STT refused at start: retried, then the session closes with stt_error and says goodbye", async () => {
  await using call = await startFaultCall({
    faults: { stt: "refuse" },
    goodbyeTimeoutMs: G,
    maxFailedTurns: 1,
  });
  const { at } = await call.waitClosed(RETRY_BUDGET_MS + closeBoundMs(G, 0) + 5_000);
  const ms = Math.round(at - call.startedAt);
  console.log(`closed in ${ms} ms (bound ${RETRY_BUDGET_MS + closeBoundMs(G, 0)} ms)`);
  assertLess(ms, RETRY_BUDGET_MS + closeBoundMs(G, 0));
  assertEquals(call.endLine().end_reason, "stt_error");
  assertGoodbyeHeardInFull(call);
  assertNoUnhandledError(call);
});

Deno.test("STT dropped mid-call: the plugin reconnects, the call goes on, and goodbye ends it normally", async () => {
  await using call = await startFaultCall({
    faults: { stt: "drop", once: true, sttDropAfterMs: 100 },
    goodbyeTimeoutMs: G,
  });
  await call.gw.waitFor((e) => e.kind === "fault" && e.target === "stt", 5_000);
  await call.gw.waitFor((e) => e.kind === "stt_session" && e.t > call.startedAt + 100, 5_000);
  await sayAndWaitClosed(
    call,
    "Okay, goodbye!",
    closeBoundMs(G, ttsDurationMs(OFFLINE_GOODBYE_TEXT)),
  );
  assertEquals(call.endLine().end_reason, "end_session");
  assertGoodbyeHeardInFull(call);
});

// ---------------------------------------------------------------- the ending's own bounds

Deno.test("a speaker that never finishes the LLM's last words: they are interrupted at the drain bound so the goodbye can start", async () => {
  const drainMs = 500;
  await using call = await startFaultCall({ goodbyeTimeoutMs: G, speechDrainMs: drainMs });
  call.speaker.neverFinish = true;
  await sayAndWaitClosed(call, "Okay, goodbye!", closeBoundMs(G, drainMs));
  warning(call, (l) => l.stalled === "speech_drain");
  assertEquals(warning(call, (l) => l.stalled === "playout").stalled, "playout");
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.endLine().goodbye, "partial", "the goodbye played but was never acknowledged");
});

Deno.test("GOODBYE_TIMEOUT_MS at its limit, worst case (the LLM's last words and the goodbye both stall for their whole bounds, both cores busy): the session still closes by itself, before the forced ending", async () => {
  // The production bounds scaled down (30 s close bound, 15 s drain) so the worst case runs in
  // seconds; the limit is derived from them exactly as MAX_GOODBYE_TIMEOUT_MS is.
  // (The goodbye's bound stays above agents-js's 2 s cancel wait, as the production one is.)
  const sessionCloseMs = 8_000;
  const drainMs = 1_000;
  const g = maxGoodbyeTimeoutMs(sessionCloseMs, drainMs);
  await using _load = startCpuLoad();
  await using call = await startFaultCall({
    goodbyeTimeoutMs: g,
    speechDrainMs: drainMs,
    bounds: { sessionCloseMs },
  });
  // Every synthesis stalls: the LLM's farewell holds the drain to its bound, is interrupted
  // (agents-js then waits its fixed cancel wait for the stalled TTS), and the goodbye stalls
  // until its own bound.
  call.gw.faults.tts = "never_answer";
  const ms = await sayAndWaitClosed(call, "Okay, goodbye!", sessionCloseMs);
  assertEquals(
    call.endLine().forced,
    undefined,
    "the forced ending came first: the goodbye's limit leaves the close bound no margin",
  );
  console.log(`goodbye bound ${g} ms: closed ${sessionCloseMs - ms} ms before the forced ending`);
  warning(call, (l) => l.stalled === "speech_drain");
  assertEquals(warning(call, (l) => l.stalled === "tts").timeout_ms, g, "the goodbye's own bound");
  assertEquals(call.endLine().goodbye, "timed_out");
  assertEquals(call.endLine().end_reason, "end_session");
});

Deno.test("a goodbye bound shorter than agents-js's cancel wait, with the LLM's farewell stalled: the goodbye gives up, the close goes on (no circular wait on the tool's own speech)", async () => {
  // The farewell's synthesis stalls: drained at 1 s, interrupted, then agents-js waits up to 2 s
  // for its stalled TTS; a 1.5 s goodbye bound runs out inside that wait, before the goodbye got
  // its turn. The close then must not find the tool's own speech still current.
  const drainMs = 1_000;
  const g = 1_500;
  await using call = await startFaultCall({ goodbyeTimeoutMs: g, speechDrainMs: drainMs });
  call.gw.faults.tts = "never_answer";
  await sayAndWaitClosed(call, "Okay, goodbye!", closeBoundMs(g, drainMs));
  assertEquals(call.endLine().end_reason, "end_session");
  assertEquals(call.endLine().goodbye, "timed_out");
  assertEquals(call.endLine().forced, undefined);
});

Deno.test("a close that does not come within SESSION_CLOSE_TIMEOUT ends the job without it, explained", async () => {
  const sessionCloseMs = 800;
  // A goodbye bound longer than the close bound: only the close bound can end this.
  await using call = await startFaultCall({
    goodbyeTimeoutMs: 3_000,
    bounds: { sessionCloseMs },
  });
  call.speaker.neverFinish = true;
  const t0 = performance.now();
  void call.session.run({ userInput: "Okay, goodbye!" }).wait().catch(() => {});
  await call.gw.waitFor((e) => e.kind === "llm_tool_call", 5_000);
  const ended = await call.waitClosed(sessionCloseMs + 5_000).catch(() => undefined);
  assertEquals(ended?.endReason, "end_session");
  const ms = Math.round(performance.now() - t0);
  console.log(`job ended in ${ms} ms (bound ${sessionCloseMs} ms + ${LIBRARY_CLOSE_COMMIT_MS})`);
  const w = warning(call, (l) => l.stalled === "close");
  assertEquals(w.timeout_ms, sessionCloseMs);
  assertEquals(call.endLine().forced, "close_timeout");
  assertEquals(call.job.shutdownReasons, ["end_session"]);
});

// ---------------------------------------------------------------- the forced ending in a worker

Deno.test("worker, close stuck past its bound: the room is deleted and the agent has left within the bound, while agents-js's own shutdown still waits on the close", async () => {
  const sessionCloseMs = 800;
  const job = new LibraryShutdownJob();
  try {
    // The LLM's farewell never finishes playing: the close stays stuck (drain 15 s).
    let processExitAt: number | undefined;
    await using call = await startFaultCall({
      goodbyeTimeoutMs: 3_000,
      bounds: {
        sessionCloseMs,
        forcedJobExitMs: 300,
        exitJobProcess: () => (processExitAt = performance.now()),
      },
      job,
    });
    job.session = call.session;
    call.speaker.neverFinish = true;
    void call.session.run({ userInput: "Okay, goodbye!" }).wait().catch(() => {});
    const toolCall = await call.gw.waitFor((e) => e.kind === "llm_tool_call", 5_000);
    await until(
      () => job.roomsDeleted === 1 && job.roomsLeft === 1,
      sessionCloseMs + 5_000,
      "the forced ending to delete the room and leave it",
    );
    const ms = Math.round(performance.now() - toolCall.t);
    console.log(`room deleted and left in ${ms} ms (bound ${sessionCloseMs} ms)`);
    assertLess(ms, sessionCloseMs + SCHEDULING_MS);
    assertEquals(
      job.milestones.closeReturned,
      undefined,
      "agents-js's shutdown was not held by the close: this test proves nothing",
    );
    assertEquals(job.shutdownReasons, ["end_session"]);
    const end = call.endLine();
    assertEquals(end.forced, "close_timeout");
    // The goodbye was asked for but waits behind the farewell that never finishes.
    assertEquals(end.goodbye, "queued");
    // agents-js still holds the job on the stuck close: the job process ends itself.
    await until(() => processExitAt, 5_000, "the job process to end itself");
    assertEquals(job.milestones.closeReturned, undefined, "the close came back: nothing held");
  } finally {
    await job.finished(); // released by the call's disposal
  }
});

Deno.test("a forced ending while the goodbye is audibly playing logs goodbye in_progress, not none", async () => {
  const sessionCloseMs = 800;
  await using call = await startFaultCall({
    brain: toolOnly(),
    goodbyeTimeoutMs: 3_000,
    bounds: { sessionCloseMs },
  });
  call.speaker.neverFinish = true; // the goodbye plays and is never acknowledged
  void call.session.run({ userInput: "bye" }).wait().catch(() => {});
  await call.waitClosed(sessionCloseMs + 5_000);
  assert(goodbyeSegment(call), "the goodbye never started playing");
  assertEquals(call.endLine().forced, "close_timeout");
  assertEquals(call.endLine().goodbye, "in_progress");
  // A worker with END_CALL_ACTION=leave would only leave; this one hangs up too.
  assertEquals(call.job.roomsDeleted, 1);
  assertEquals(call.job.roomsLeft, 1);
});
