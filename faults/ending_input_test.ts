/**
 * Once the ending has started, no user input gets a reply: nothing is sent to
 * the LLM for it, nothing but the goodbye is synthesized, and the goodbye is
 * neither cut nor followed by more speech (`core/reply_guard.ts`).
 *
 * The project's agent on the REAL Inference plugins against the loopback
 * gateway, with both cores kept busy by spinning child processes. After
 * "bye", input arrives at five moments of the ending, each time by the two
 * paths a session takes text from:
 * - the console protocol's `run_input`, through agents-js's own `SessionHost`
 *   (its `handleRunInput` force-interrupts the current speech, then calls
 *   `session.run`), fed by an in-memory transport instead of a socket;
 * - the room's text input callback the agent installs (`guardedTextInput`).
 * The voice path and the real console protocol are driven by
 * `faults/console_input_test.ts`.
 *
 * Re-measure: `deno test -A faults/ending_input_test.ts`.
 */
import { voice } from "@livekit/agents";
import { assert, assertEquals } from "@std/assert";
import { GOODBYE } from "../agent.ts";
import { guardedTextInput } from "../core/reply_guard.ts";
import { OFFLINE_GOODBYE_TEXT, ttsDurationMs } from "../simulation/mod.ts";
import { startCpuLoad } from "../testing/cpu_load.ts";
import { MemorySessionTransport } from "../testing/fakes/session_transport.ts";
import { type FaultCall, startFaultCall } from "../testing/session_harness.ts";

const G = 3_000;

/** When, in the ending, the input arrives. */
type Moment = (call: FaultCall, fire: () => void) => void;

/** The n-th segment's playback starting on the speaker (0: the LLM's farewell, 1: the goodbye). */
function onPlaybackStarted(call: FaultCall, index: number, fire: () => void): void {
  const listener = () => {
    if (call.speaker.segments.length !== index + 1) return;
    call.speaker.off(voice.AudioOutput.EVENT_PLAYBACK_STARTED, listener);
    fire();
  };
  call.speaker.on(voice.AudioOutput.EVENT_PLAYBACK_STARTED, listener);
}

const MOMENTS: Record<string, Moment> = {
  "the moment end_session ran": (call, fire) => {
    call.session.once(voice.AgentSessionEventTypes.FunctionToolsExecuted, () => fire());
  },
  "while the LLM's own farewell plays": (call, fire) => onPlaybackStarted(call, 0, fire),
  "as the goodbye starts playing": (call, fire) => onPlaybackStarted(call, 1, fire),
  "in the middle of the goodbye": (call, fire) =>
    // A point in the goodbye's real-time playout, not a wait for a condition.
    onPlaybackStarted(call, 1, () => setTimeout(fire, ttsDurationMs(GOODBYE) / 2)),
  "after the goodbye played, before the session closed": (call, fire) => {
    const listener = () => {
      if (call.speaker.segments.length < 2 || !call.speaker.segments[1].finished) return;
      call.speaker.off(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, listener);
      fire();
    };
    call.speaker.on(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, listener);
  },
};

for (const [when, moment] of Object.entries(MOMENTS)) {
  Deno.test(`input ${when}, both cores busy: no LLM request, nothing synthesized but the goodbye, which plays in full and last`, async () => {
    await using _load = startCpuLoad();
    await using call = await startFaultCall({ goodbyeTimeoutMs: G });
    // The console protocol's host, as agents-js runs it in a console agent.
    const transport = new MemorySessionTransport();
    const host = new voice.SessionHost(transport);
    host.registerSession(call.session);
    await host.start();
    const sent: Promise<string | undefined>[] = [];
    let fired = false;
    moment(call, () => {
      fired = true;
      assert(call.ending.isStarted, "the moment came before the ending started");
      sent.push(transport.runInput("Wait, one more question: what is the weather?"));
      sent.push(
        Promise.resolve(guardedTextInput(call.session, {
          text: "Actually, tell me a joke first.",
          info: {} as never,
          participantIdentity: "caller",
        })).then(() => undefined),
      );
    });
    call.session.generateReply({ userInput: "Okay, goodbye!" });
    const { endReason } = await call.waitClosed(closeWithin(G));
    assert(fired, `the input was never sent (${when})`);
    const errors = await Promise.all(sent);
    await host.close();
    assertEquals(endReason, "end_session");

    assertEquals(
      call.gw.log.filter((e) => e.kind === "llm_request").length,
      1,
      "the LLM was asked about input that arrived during the ending",
    );
    assertEquals(call.gw.synthesized(), [OFFLINE_GOODBYE_TEXT, GOODBYE]);
    assertEquals(call.speaker.segments.length, 2, "speech after the goodbye");
    const [farewell, goodbye] = call.speaker.segments;
    assert(farewell.finished && !farewell.interrupted, "the LLM's farewell was cut");
    assert(goodbye.finished && !goodbye.interrupted, "the goodbye was cut");
    assertEquals(Math.round(goodbye.capturedMs), ttsDurationMs(GOODBYE));
    assertEquals(call.endLine().goodbye, "played");
    // run_input's peer is told there is no reply; the text input is only logged.
    const runError = errors[0];
    assert(runError !== undefined, "run_input during the ending reported a reply");
  });
}

/** The ending's bound for these calls: the farewell plays, then the goodbye, then the fixed waits. */
function closeWithin(goodbyeMs: number): number {
  return ttsDurationMs(OFFLINE_GOODBYE_TEXT) + goodbyeMs + 2_500 + 5_000;
}
