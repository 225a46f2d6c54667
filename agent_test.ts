/**
 * The exit flow on the real agents-js session: the library's FakeLLM and
 * FakeSTT, a recording TTS and a real-time fake speaker (testing/fakes/), the
 * project's own agent, tool and job glue.
 */
import { initializeLogger, JobProcess, stt, voice } from "@livekit/agents";
import {
  DisconnectReason,
  ParticipantKind,
  type RemoteParticipant,
  Room,
  RoomEvent,
} from "@livekit/rtc-node";
import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import { GOODBYE, GoodbyeAgent, INSTRUCTIONS } from "./agent.ts";
import { CallEnding } from "./core/ending.ts";
import { watchHangup } from "./core/hangup.ts";
import { endJobAfterClose } from "./core/job_end.ts";
import { TIMED_OUT, withTimeout } from "./core/timeout.ts";
import { createSession } from "./core/session.ts";
import { prewarm, type PrewarmData, prewarmedVad } from "./prewarm.ts";
import { captureLogs } from "./testing/log_capture.ts";
import {
  fakeSpeechMs,
  RecordingAudioOutput,
  RecordingJob,
  RecordingTTS,
} from "./testing/fakes/session_fakes.ts";

initializeLogger({ pretty: false, level: "warn" });
// One process-wide prewarm, as a job process has: every session below reuses its VAD.
const proc = new JobProcess<PrewarmData>();
await prewarm(proc);

interface CallOptions {
  replies: voice.testing.FakeLLMResponse[];
  goodbyeTimeoutMs?: number;
}

async function startCall({ replies, goodbyeTimeoutMs = 5_000 }: CallOptions) {
  const tts = new RecordingTTS();
  const speaker = new RecordingAudioOutput();
  const ending = new CallEnding();
  const job = new RecordingJob();
  const session = createSession(
    {
      stt: new stt.testing.FakeSTT(),
      llm: new voice.testing.FakeLLM(replies),
      tts,
      vad: prewarmedVad(proc),
    },
    "vad",
    ending,
  );
  session.output.audio = speaker;
  const ended = endJobAfterClose(job, session, ending, "delete_room");
  const agent = new GoodbyeAgent({ ending, goodbyeTimeoutMs });
  await session.start({ agent });
  return {
    session,
    tts,
    speaker,
    ending,
    job,
    ended,
    async waitClosed(ms = 15_000): Promise<string> {
      const reason = await withTimeout(ended, ms);
      if (reason === TIMED_OUT) throw new Error(`session did not close within ${ms} ms`);
      return reason;
    },
    async dispose() {
      speaker.dispose();
      await session.close();
    },
  };
}

const BYE_WITH_TEXT: voice.testing.FakeLLMResponse = {
  input: "bye",
  content: "It was nice talking to you.",
  toolCalls: [{ name: "end_session", args: {} }],
};

Deno.test("the agent carries the recipe's instructions and the end_session tool", () => {
  const agent = new GoodbyeAgent();
  assertEquals(agent.instructions, INSTRUCTIONS);
  assertEquals(Object.keys(agent.toolCtx.functionTools ?? agent.toolCtx), ["end_session"]);
});

Deno.test("bye: end_session runs, Goodbye! is synthesized and fully played, the session closes, the job ends", async () => {
  using logs = captureLogs();
  const call = await startCall({
    replies: [{ input: "bye", toolCalls: [{ name: "end_session", args: {} }] }],
  });
  try {
    const run = call.session.run({ userInput: "bye" });
    await run.wait();
    run.expect.containsFunctionCall({ name: "end_session" });
    assertEquals(await call.waitClosed(), "end_session");

    assertEquals(call.tts.texts, [GOODBYE]);
    const goodbye = call.speaker.segments.at(-1);
    assert(goodbye, "no audio was played");
    assert(goodbye!.finished && !goodbye!.interrupted, "the goodbye was cut short");
    assertEquals(Math.round(goodbye!.playedMs), fakeSpeechMs(GOODBYE));
    assertEquals(call.job.shutdownReasons, ["end_session"]);
    await call.job.runShutdownCallbacks();
    assertEquals(call.job.roomsDeleted, 1, "END_CALL_ACTION=delete_room hangs up everyone");
    const endLine = logs.lines.find((l) => l.msg === "session ended: end_session");
    assert(endLine, "no 'session ended' line");
    assertEquals(endLine!.end_reason, "end_session");
  } finally {
    await call.dispose();
  }
});

Deno.test("the caller is hung up once the goodbye has played, not after the close's fixed 500 ms wait; one deletion", async () => {
  using _logs = captureLogs();
  const call = await startCall({ replies: [BYE_WITH_TEXT] });
  try {
    let closedAt = 0;
    call.session.once(voice.AgentSessionEventTypes.Close, () => closedAt = performance.now());
    await call.session.run({ userInput: "bye" }).wait();
    await call.waitClosed();
    assertEquals(call.job.roomsDeleted, 1, "the room is deleted before the job's shutdown runs");
    const goodbyeEnd = call.speaker.segments.at(-1)!.endedAt!;
    const hangUp = call.job.deletedAt! - goodbyeEnd;
    assertLess(hangUp, 250, `hung up ${Math.round(hangUp)} ms after the goodbye's end`);
    assertLess(call.job.deletedAt!, closedAt, "hung up before the session closed");
    await call.job.runShutdownCallbacks();
    assertEquals(call.job.roomsDeleted, 1, "the close does not delete the room again");
  } finally {
    await call.dispose();
  }
});

Deno.test("what the LLM says in the same turn as end_session plays in full, before the goodbye", async () => {
  using _logs = captureLogs();
  const call = await startCall({ replies: [BYE_WITH_TEXT] });
  try {
    await call.session.run({ userInput: "bye" }).wait();
    await call.waitClosed();
    assertEquals(call.tts.texts, [BYE_WITH_TEXT.content, GOODBYE]);
    assertEquals(call.speaker.segments.length, 2);
    const [said, goodbye] = call.speaker.segments;
    assert(!said.interrupted && said.finished, "the LLM's own words were cut short");
    assertEquals(Math.round(said.playedMs), fakeSpeechMs(BYE_WITH_TEXT.content!));
    assert(!goodbye.interrupted && goodbye.finished);
  } finally {
    await call.dispose();
  }
});

Deno.test("end_session twice in one turn is harmless: one goodbye, one close", async () => {
  using _logs = captureLogs();
  const call = await startCall({
    replies: [{
      input: "bye",
      toolCalls: [{ name: "end_session", args: {} }, { name: "end_session", args: {} }],
    }],
  });
  let closes = 0;
  call.session.on(voice.AgentSessionEventTypes.Close, () => closes++);
  try {
    await call.session.run({ userInput: "bye" }).wait();
    await call.waitClosed();
    assertEquals(call.tts.texts, [GOODBYE]);
    assertEquals(closes, 1);
    assertEquals(call.job.shutdownReasons, ["end_session"]);
  } finally {
    await call.dispose();
  }
});

Deno.test("a goodbye whose TTS stalls is abandoned at the bound, with a warning naming the TTS", async () => {
  using logs = captureLogs();
  const call = await startCall({
    replies: [{ input: "bye", toolCalls: [{ name: "end_session", args: {} }] }],
    goodbyeTimeoutMs: 300,
  });
  call.tts.stallWhen = (text) => text === GOODBYE;
  try {
    await call.session.run({ userInput: "bye" }).wait();
    assertEquals(await call.waitClosed(), "end_session");
    const warning = logs.warnings().find((l) => l.stalled !== undefined);
    assert(warning, `no stall warning in ${JSON.stringify(logs.warnings())}`);
    assertEquals(warning!.stalled, "tts");
    assertEquals(call.job.shutdownReasons, ["end_session"]);
  } finally {
    await call.dispose();
  }
});

Deno.test("a goodbye whose playout never finishes is abandoned at the bound, with a warning naming playout", async () => {
  using logs = captureLogs();
  const call = await startCall({
    replies: [{ input: "bye", toolCalls: [{ name: "end_session", args: {} }] }],
    goodbyeTimeoutMs: 300,
  });
  call.speaker.neverFinish = true;
  try {
    await call.session.run({ userInput: "bye" }).wait();
    assertEquals(await call.waitClosed(), "end_session");
    const warning = logs.warnings().find((l) => l.stalled !== undefined);
    assert(warning, `no stall warning in ${JSON.stringify(logs.warnings())}`);
    assertEquals(warning!.stalled, "playout");
  } finally {
    await call.dispose();
  }
});

function hangUp(room: Room, identity = "caller") {
  const participant = {
    identity,
    disconnectReason: DisconnectReason.CLIENT_INITIATED,
    info: { kind: ParticipantKind.STANDARD },
  } as unknown as RemoteParticipant;
  room.emit(RoomEvent.ParticipantDisconnected, participant);
}

Deno.test("user hang-up: no goodbye is synthesized, the session closes, the job ends without deleting the room", async () => {
  using logs = captureLogs();
  const call = await startCall({ replies: [] });
  // A real rtc-node Room object, unconnected: no LiveKit server can run here, so
  // the disconnect event it would receive from the server is emitted by hand.
  const room = new Room();
  const unwatch = watchHangup(room, call.session, call.ending);
  try {
    hangUp(room);
    assertEquals(await call.waitClosed(), "participant_disconnected");
    assertEquals(call.tts.texts, []);
    assertEquals(call.job.shutdownReasons, ["participant_disconnected"]);
    await call.job.runShutdownCallbacks();
    assertEquals(call.job.roomsDeleted, 0);
    assert(logs.lines.some((l) => l.end_reason === "participant_disconnected"));
  } finally {
    unwatch();
    await call.dispose();
  }
});

Deno.test("one participant leaving while another still listens does not end the call", async () => {
  using _logs = captureLogs();
  const call = await startCall({ replies: [] });
  const room = new Room();
  room.remoteParticipants.set(
    "other",
    { identity: "other", info: { kind: ParticipantKind.SIP } } as unknown as RemoteParticipant,
  );
  const unwatch = watchHangup(room, call.session, call.ending);
  try {
    hangUp(room);
    assertEquals(call.ending.userGone, false);
    assertEquals(call.ending.requestedBy, undefined);
  } finally {
    unwatch();
    await call.dispose();
  }
});

Deno.test("a hang-up during the goodbye cuts it short", async () => {
  using _logs = captureLogs();
  const call = await startCall({
    replies: [{ input: "bye", toolCalls: [{ name: "end_session", args: {} }] }],
  });
  const room = new Room();
  const unwatch = watchHangup(room, call.session, call.ending);
  // Hang up as soon as the goodbye starts playing.
  call.session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
    if (ev.newState === "speaking" && call.tts.texts.includes(GOODBYE)) hangUp(room);
  });
  try {
    await call.session.run({ userInput: "bye" }).wait();
    assertEquals(await call.waitClosed(), "participant_disconnected");
    const goodbye = call.speaker.segments.at(-1);
    assert(goodbye?.interrupted, "the goodbye played to nobody");
    assertLess(goodbye!.playedMs, fakeSpeechMs(GOODBYE));
  } finally {
    unwatch();
    await call.dispose();
  }
});

Deno.test("prewarm loads the VAD once per process and every session reuses it", async () => {
  const vad = prewarmedVad(proc);
  await prewarm(proc);
  assertEquals(proc.userData.prewarmCount, 1);
  assert(prewarmedVad(proc) === vad, "a second prewarm replaced the VAD");
  using _logs = captureLogs();
  const first = await startCall({ replies: [] });
  const second = await startCall({ replies: [] });
  try {
    assert(first.session.vad === vad && second.session.vad === vad, "a session built its own VAD");
  } finally {
    await first.dispose();
    await second.dispose();
  }
  assertGreater(vad.label.length, 0);
});

Deno.test("the entrypoint refuses to run without prewarm, saying what to do", () => {
  const bare = new JobProcess<PrewarmData>();
  let message = "";
  try {
    prewarmedVad(bare);
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.includes("prewarm"), message);
});
