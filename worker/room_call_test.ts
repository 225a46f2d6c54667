/**
 * The agent in a real LiveKit room: `main.ts start` against the real livekit-server, a real
 * caller on rtc-node, the real Inference plugins against the loopback simulation. Everything
 * runs inside the test sandbox (`deno task test`); see `testing/real_room/real_room.ts`.
 *
 * The caller speaks phrases of the simulation's phrasebook in its synthetic voice, each at its own
 * pitch; the simulated STT recognizes each by that pitch (scripted per utterance), and the offline
 * brain answers
 * hello with a greeting and bye with `end_session`.
 */
import { assert, assertEquals, assertFalse } from "@std/assert";
import { GOODBYE } from "../agent.ts";
import {
  DELETE_ROOM_TIMEOUT_MS,
  FORCED_JOB_EXIT_MS,
  MAX_GOODBYE_TIMEOUT_MS,
} from "../core/bounds.ts";
import { OFFLINE_GOODBYE_TEXT } from "../simulation/mod.ts";
import { fromFileUrl } from "../testing/paths.ts";
import { SHORT_CLOSE_MS } from "./testdata/short_close_agent.ts";
import { epochMs } from "../testing/real_room/caller/mod.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import {
  BYE,
  HELLO,
  jobFinished,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";

realRoomTest(
  "real room: start registers, a caller's fresh room is dispatched automatically, hello is answered",
  async () => {
    await using room = await RealRoom.start();
    await room.startWorker();
    const joinedAt = epochMs();
    const caller = await room.call();
    const agent = await caller.waitForAgent(1);
    assert(agent.identity.startsWith("agent-"), `agent identity ${agent.identity}`);
    const reply = await helloExchange(room, caller);
    console.log(
      `agent joined ${Math.round(agent.joinedAt - joinedAt)} ms after the caller; ` +
        `reply heard (correlation ${reply.correlation.toFixed(3)}, coverage ${
          reply.coverage.toFixed(2)
        })`,
    );
    const stt = room.gateway.log.find((e) => e.kind === "stt_final");
    assertEquals(stt?.kind === "stt_final" && stt.text, HELLO);
  },
);

realRoomTest(
  "real room: bye -> end_session, Goodbye! heard in full, room deleted, caller gets ROOM_DELETED, the job ends, the worker serves the next call",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const caller = await room.call();
    const agent = await caller.waitForAgent(30_000);
    await helloExchange(room, caller);
    // Silent between utterances: the agent's track is muted once its reply is over
    // (core/paced_audio.ts), and unmuted for the goodbye.
    const muted = await caller.waitFor(
      "track_muted",
      10_000,
      (e) => e.identity === agent.identity && e.muted,
      "the agent's track muted after its reply",
    );

    const bye = await sayHeard(room, caller, BYE);
    const tool = await room.gateway.waitFor(
      (e) => e.kind === "llm_tool_call" && e.name === "end_session",
      20_000,
    );
    assert(tool, "the LLM asked for end_session");
    const goodbye = await goodbyeHeard(room, caller, bye.endAt);
    const unmuted = caller.events().find((e) =>
      e.ev === "track_muted" && e.identity === agent.identity && !e.muted && e.at > muted.at
    ) as { at: number } | undefined;
    assert(unmuted && unmuted.at <= goodbye.startAt, "the agent's track unmuted for the goodbye");
    const gone = await caller.disconnected(30_000);
    assertEquals(gone.reason, "ROOM_DELETED");
    const ended = await sessionEnded(worker, caller.room, 30_000);
    assertEquals(ended.end_reason, "end_session");
    assertEquals(ended.goodbye, "played");
    assertFalse((await room.server.roomNames()).includes(caller.room), "the room still exists");
    // The job ends in the worker (its call host frees the slot).
    await jobFinished(worker, ended, 15_000);
    console.log(
      `"Goodbye!" heard in full (correlation ${goodbye.correlation.toFixed(3)}); ` +
        `caller waited ${Math.round(gone.at - goodbye.endAt)} ms in silence before ROOM_DELETED`,
    );

    // The worker keeps serving: a second call in a new room works.
    const second = await room.call();
    await helloExchange(room, second);
    const bye2 = await sayHeard(room, second, BYE);
    await goodbyeHeard(room, second, bye2.endAt);
    assertEquals((await second.disconnected(30_000)).reason, "ROOM_DELETED");
  },
);

realRoomTest(
  "real room: END_CALL_ACTION=leave: the agent leaves after the goodbye, the caller stays, the room survives",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker(["start"], { END_CALL_ACTION: "leave" });
    const caller = await room.call();
    const agent = await caller.waitForAgent(1);
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    await caller.waitFor("participant_left", 30_000, (e) => e.identity === agent.identity);
    const ended = await sessionEnded(worker, caller.room, 10_000);
    assertEquals(ended.end_reason, "end_session");
    // The agent is gone: the caller is still connected, and the room is still there.
    assertFalse(
      caller.events().some((e) => e.ev === "disconnected"),
      "the caller was disconnected",
    );
    assert((await room.server.roomNames()).includes(caller.room), "the room was deleted");
    await jobFinished(worker, ended, 15_000);
    await caller.hangup();
  },
);

realRoomTest(
  "real room: the caller hangs up mid-call: no goodbye is synthesized, the job ends (participant_disconnected)",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const caller = await room.call();
    await helloExchange(room, caller);
    await caller.hangup();
    const ended = await sessionEnded(worker, caller.room, 30_000);
    assertEquals(ended.end_reason, "participant_disconnected");
    assertEquals(ended.goodbye, "skipped");
    await jobFinished(worker, ended, 15_000);
    assertFalse(
      room.gateway.synthesized().includes(GOODBYE),
      `a goodbye was synthesized for nobody: ${JSON.stringify(room.gateway.synthesized())}`,
    );
  },
);

realRoomTest(
  "real room: the caller hangs up during the goodbye: the goodbye is cut, the job ends (participant_disconnected)",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const caller = await room.call();
    const bye = await sayHeard(room, caller, BYE);
    // Hang up as soon as the goodbye is being synthesized (its audio is on its way).
    await room.gateway.waitFor((e) => e.kind === "tts_transcript" && e.text === GOODBYE, 20_000);
    await caller.hangup();
    const ended = await sessionEnded(worker, caller.room, 30_000);
    assertEquals(ended.end_reason, "participant_disconnected");
    await jobFinished(worker, ended, 15_000);
    assert(bye.endAt > 0);
  },
);

realRoomTest(
  "real room: a close stuck past its bound still hangs up: the forced ending deletes the room and leaves it within the bound",
  async () => {
    await using room = await RealRoom.start();
    // The real agent with a 3 s close bound (worker/testdata/short_close_agent.ts).
    // The goodbye may take its longest (MAX_GOODBYE_TIMEOUT_MS), so the close stays stuck well
    // past the bound.
    const worker = await room.startWorker(["./short_close_agent.ts", "start"], {
      GOODBYE_TIMEOUT_MS: String(MAX_GOODBYE_TIMEOUT_MS),
    }, {
      script: fromFileUrl(new URL("./testdata/run_agent_worker.ts", import.meta.url)),
      defaults: ["--port", "0", "--num-idle-processes", "1", "--max-jobs", "8"],
    });
    const caller = await room.call();
    await sayHeard(room, caller, BYE);
    // The goodbye's synthesis never answers (its own bound is 10 s): the close is stuck on it.
    await room.gateway.waitFor(
      (e) => e.kind === "tts_audio" && e.texts.includes(OFFLINE_GOODBYE_TEXT),
      20_000,
    );
    room.gateway.faults.tts = "never_answer";
    const tool = await room.gateway.waitFor(
      (e) => e.kind === "llm_tool_call" && e.name === "end_session",
      1,
    );
    const gone = await caller.disconnected(SHORT_CLOSE_MS + DELETE_ROOM_TIMEOUT_MS + 10_000);
    assertEquals(gone.reason, "ROOM_DELETED");
    const ended = await sessionEnded(worker, caller.room, 1_000);
    assertEquals(ended.forced, "close_timeout");
    assertEquals(ended.end_reason, "end_session");
    const hungUpAfterMs = gone.at - (performance.timeOrigin + tool.t);
    assert(
      hungUpAfterMs <= SHORT_CLOSE_MS + DELETE_ROOM_TIMEOUT_MS + 1_000,
      `the caller was hung up ${Math.round(hungUpAfterMs)} ms after end_session`,
    );
    assertFalse((await room.server.roomNames()).includes(caller.room), "the room still exists");
    // The job does not stay held by the stuck close (which would last until the goodbye's own
    // bound, 10.5 s): after a short grace its call host releases it.
    const finished = await jobFinished(worker, ended, FORCED_JOB_EXIT_MS + 4_000);
    assertEquals(finished.via, "host");
    console.log(
      `forced ending: the caller was hung up ${Math.round(hungUpAfterMs)} ms after end_session ` +
        `(close bound ${SHORT_CLOSE_MS} ms)`,
    );
  },
);
