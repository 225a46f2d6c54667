/**
 * Faults on the goodbye path, at process level, in console mode: how the
 * ending ends when the broker misbehaves (never acknowledges the goodbye's
 * playout, resets the socket in the middle of it) and when signals arrive
 * (during the goodbye, mid-conversation, a second one). Each test asserts the
 * exit status within its bound, the one `session ended` line with its
 * `end_reason`, no `Uncaught`/unhandled rejection, and that no process of the
 * agent's group is left (the rig: `faults/console_support.ts`).
 *
 * Re-measure: `deno test -A faults/console_exit_test.ts` (each test prints
 * `exited N in M ms (bound B ms)`).
 */
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { type LlmBrain, offlineBrain } from "../simulation/mod.ts";
import { until } from "../testing/wait.ts";
import {
  CONNECT_MS,
  endRun,
  EXIT_BOUND_MS,
  exited,
  sessionEnded,
  startRun,
} from "./console_support.ts";

/** The goodbye turn answers with the tool only, so the goodbye is the only speech. */
const toolOnly: LlmBrain = (req) => {
  const last = req.messages.at(-1);
  return last?.role === "user" ? { toolCalls: [{ name: "end_session", arguments: "{}" }] } : {
    text: "Hello.",
  };
};

Deno.test("console baseline: bye -> end_session -> the goodbye is received in full -> the agent exits by itself with 0", async () => {
  const run = await startRun(offlineBrain());
  try {
    const t0 = performance.now();
    await run.broker.say("bye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    // No signal, no socket close: the agent must end on its own once the goodbye played.
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'goodbye: "played"');
    assertEquals(run.gw.synthesized().at(-1), "Goodbye!");
    // Every millisecond the stand-in synthesized reached the broker (one 48 kHz frame of slack).
    const synthesizedMs = run.gw.log.reduce(
      (sum, e) => e.kind === "tts_audio" ? sum + e.durationMs : sum,
      0,
    );
    assertAlmostEquals(run.broker.audioMs, synthesizedMs, 25);
  } finally {
    await endRun(run);
  }
});

Deno.test("console: the broker never acknowledges the goodbye's playout: bounded, explained, exit 0", async () => {
  const run = await startRun(toolOnly, { ack: false });
  try {
    const t0 = performance.now();
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(text, 'stalled: "playout"');
  } finally {
    await endRun(run);
  }
});

Deno.test("console: the broker resets the socket in the middle of the goodbye: bounded, explained, exit 0", async () => {
  const run = await startRun(toolOnly);
  try {
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const before = run.broker.audioFrames;
    await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
    const t0 = performance.now();
    await run.broker.reset();
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    assertStringIncludes(sessionEnded(text), 'end_reason: "end_session"');
  } finally {
    await endRun(run);
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`console: ${signal} during the goodbye: the goodbye finishes, exit 0, the line names the signal`, async () => {
    const run = await startRun(toolOnly);
    try {
      await run.broker.say("goodbye");
      await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
      const before = run.broker.audioFrames;
      await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
      const t0 = performance.now();
      run.agent.signal(signal);
      const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
      assertEquals(status.code, 0);
      const line = sessionEnded(text);
      assertStringIncludes(line, 'end_reason: "end_session"');
      assertStringIncludes(line, `"${signal}"`);
      assertStringIncludes(line, 'goodbye: "played"');
    } finally {
      await endRun(run);
    }
  });
}

Deno.test("console: SIGINT mid-conversation ends the session with end_reason sigint, and the goodbye is heard", async () => {
  const run = await startRun(offlineBrain());
  try {
    await run.broker.say("hello");
    await run.broker.until(() => run.broker.audioFrames > 0, CONNECT_MS, "the reply's audio");
    const t0 = performance.now();
    run.agent.signal("SIGINT");
    // Close interrupts the reply (drain 0), then the goodbye.
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "sigint"');
    assertStringIncludes(line, 'goodbye: "played"');
    assert(run.gw.synthesized().includes("Goodbye!"));
  } finally {
    await endRun(run);
  }
});

Deno.test("console: a second signal during the goodbye exits at once (130), with one line saying so", async () => {
  // Never acked: the goodbye would otherwise take the whole goodbye bound.
  const run = await startRun(toolOnly, { ack: false });
  try {
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const before = run.broker.audioFrames;
    await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
    run.agent.signal("SIGTERM");
    // Two distinct signals, not one coalesced: the second goes once the first was handled.
    await until(
      () => run.lines.some((l) => l.includes("SIGTERM received; ending the session")) || undefined,
      10_000,
      "the agent to handle the first signal",
    );
    const t0 = performance.now();
    run.agent.signal("SIGINT");
    const { status, text } = await exited(run, t0, 1_000);
    assertEquals(status.code, 130);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'forced: "second SIGINT"');
  } finally {
    await endRun(run);
  }
});
