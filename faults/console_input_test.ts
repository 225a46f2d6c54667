/**
 * Input during the ending, at process level, in console mode: typed input
 * (the console protocol's `run_input`) and spoken input (the agent's
 * microphone) after `end_session` get no reply, and the goodbye is received
 * in full and last; typed input does not cut the LLM's farewell. The real
 * agent process against a loopback broker (the rig: `faults/console_support.ts`).
 *
 * Re-measure: `deno test -A faults/console_input_test.ts` (each test prints
 * `exited N in M ms (bound B ms)`).
 */
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { type LlmBrain, ttsDurationMs } from "../simulation/mod.ts";
import { startCpuLoad } from "../testing/cpu_load.ts";
import { until } from "../testing/wait.ts";
import {
  CONNECT_MS,
  endRun,
  EXIT_BOUND_MS,
  exited,
  sessionEnded,
  startRun,
} from "./console_support.ts";

Deno.test("console: typed and spoken input during the ending, both cores busy: no reply, the goodbye received in full and last, exit 0", async () => {
  await using _load = startCpuLoad();
  // A long farewell in the end_session turn, so the input lands well inside the ending.
  const farewell = "It was really nice talking to you today, take care and have a lovely evening.";
  const brain: LlmBrain = (req) =>
    req.messages.at(-1)?.role === "user"
      ? { text: farewell, toolCalls: [{ name: "end_session", arguments: "{}" }] }
      : { text: "Hello." };
  const run = await startRun(brain, { audioIn: true });
  try {
    await run.broker.say("bye");
    // end_session runs while the farewell is synthesized; the user talks over it.
    await run.broker.until(() => run.broker.audioFrames > 0, CONNECT_MS, "the farewell's audio");
    const t0 = performance.now();
    const spoken = run.broker.speak("and one more thing before you go");
    // Typed as soon as the broker hears of end_session (the console protocol's
    // run_input: agents-js force-interrupts the current speech first) ...
    await run.broker.until(() => run.broker.endSessionCalled(), 20_000, "end_session");
    const typed = [await run.broker.say("Wait, what is the weather like?")];
    // ... and again as the goodbye is synthesized.
    await run.gw.waitFor((e) => e.kind === "tts_transcript" && e.text === "Goodbye!", 20_000);
    typed.push(await run.broker.say("Tell me a joke first."));
    await spoken;
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS + ttsDurationMs(farewell));
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'goodbye: "played"');

    assertEquals(
      run.gw.log.filter((e) => e.kind === "llm_request").length,
      1,
      "the LLM was asked about input that arrived during the ending",
    );
    assert(
      run.gw.log.some((e) => e.kind === "stt_final"),
      "the spoken input never reached the agent's STT: the test proved nothing",
    );
    const synthesized = run.gw.synthesized();
    assertEquals(synthesized.at(-1), "Goodbye!");
    assertEquals(synthesized.filter((t) => t === "Goodbye!").length, 1);
    for (const t of synthesized.slice(0, -1)) {
      assert(farewell.includes(t), `"${t}" was synthesized during the ending`);
    }
    // The LLM's own farewell may be cut here: the user's voice barges in on it, as on any reply
    // (README; typed input alone does not cut it, see the next test). The goodbye is not cut.
    const goodbye = run.broker.segments.at(-1)!;
    assertEquals(goodbye.cleared, false, "the goodbye was cut");
    // Two 20 ms frames of slack: the resampler's frame boundaries and its flush.
    assertAlmostEquals(goodbye.ms, ttsDurationMs("Goodbye!"), 40);
    for (const id of typed) {
      const response = run.broker.responses.get(id);
      assert(response?.error, `run_input ${id} during the ending got a reply: ${response}`);
    }
  } finally {
    await endRun(run);
  }
});

Deno.test("console: typed input during the LLM's farewell (agents-js's run_input force-interrupts): no reply, the farewell and the goodbye play in full", async () => {
  const farewell = "It was really nice talking to you today, take care and have a lovely evening.";
  const brain: LlmBrain = (req) =>
    req.messages.at(-1)?.role === "user"
      ? { text: farewell, toolCalls: [{ name: "end_session", arguments: "{}" }] }
      : { text: "Hello." };
  const run = await startRun(brain);
  try {
    await run.broker.say("bye");
    // The broker hears of end_session only once the turn's speech has played; the agent's log
    // says when it runs (agents-js logs the call, then runs the tool, which starts the ending).
    await until(
      () => run.lines.some((l) => l.includes("Executing LLM tool call")) || undefined,
      CONNECT_MS,
      "end_session to run",
    );
    await run.broker.until(() => run.broker.audioFrames > 0, 20_000, "the farewell's audio");
    const t0 = performance.now();
    const farewellSegment = run.broker.segments.at(-1)!;
    const typed = await run.broker.say("Wait, what is the weather like?");
    assert(!farewellSegment.played, "the farewell had finished before the input: proved nothing");
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS + ttsDurationMs(farewell));
    assertEquals(status.code, 0);
    assertStringIncludes(sessionEnded(text), 'goodbye: "played"');
    assert(run.broker.responses.get(typed)?.error, "the typed input during the ending got a reply");
    const [said, goodbye] = run.broker.segments.slice(-2);
    assertEquals(said.cleared, false, "the LLM's farewell was cut");
    assert(said.played, "the LLM's farewell never finished playing");
    assertAlmostEquals(said.ms, ttsDurationMs(farewell), 40, "the farewell did not arrive whole");
    assertEquals(goodbye.cleared, false, "the goodbye was cut");
    assertAlmostEquals(goodbye.ms, ttsDurationMs("Goodbye!"), 40);
  } finally {
    await endRun(run);
  }
});
