import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import type {
  ByeRecord,
  HangupRecord,
  LlmFailureRecord,
  ScenarioBase,
  ScenarioRecord,
  SigtermRecord,
  TalkOverRecord,
} from "./room_records.ts";
import { BYE } from "../../testing/real_room/real_room.ts";
import {
  behaviourList,
  behaviourRows,
  cell,
  endingVerdict,
  fill,
  goodbyeVerdict,
  hangupVerdict,
  llmFailureVerdict,
  sigtermVerdict,
  silenceVerdict,
  talkOverVerdict,
  toolVerdict,
} from "./room_verdicts.ts";

const T = 1_800_000_000_000;

function base<S extends ScenarioRecord["scenario"]>(scenario: S, runtime: "deno" | "python") {
  return {
    scenario,
    runtime,
    startedAt: T,
    load: [1, 1],
    dispatchTries: 1,
    synthesized: [],
    transcribed: [],
    jobLog: [],
  } satisfies Omit<ScenarioBase, "scenario"> & { scenario: S };
}

const heard = {
  synthesizedAt: T + 3000,
  found: true,
  inFull: true,
  coverage: 0.9,
  endAt: T + 3700,
};

/** This project's bye: the session closed, ROOM_DELETED 600 ms after the goodbye. */
function denoBye(closedAfterMs = 2500): ByeRecord {
  return {
    ...base("bye", "deno"),
    toolCalledAt: T + 1000,
    goodbye: heard,
    sessionClosedAt: T + 1000 + closedAfterMs,
    endReason: "end_session",
    stuck: [],
    disconnect: { reason: "ROOM_DELETED", at: T + 4300 },
    silenceFrom: T + 3700,
    silenceBoundMs: 20_000,
    roomListed: false,
    jobEnded: true,
  };
}

/** The recipe's bye: no close, end_session stuck in drain, nobody disconnected. */
function pythonBye(): ByeRecord {
  return {
    ...base("bye", "python"),
    toolCalledAt: T + 1000,
    goodbye: heard,
    stuck: [{
      task: "tool_exec_end_session",
      awaits: [
        "/src/exit_message.py:24 end_session",
        "livekit/agents/voice/agent_session.py:1237 drain",
        "livekit/agents/voice/agent_activity.py:1449 _pause_scheduling_task",
      ],
    }],
    silenceFrom: T + 3700,
    silenceBoundMs: 20_000,
    roomListed: true,
    jobEnded: false,
    afterHangup: { boundMs: 30_000 },
  };
}

Deno.test("bye verdicts: the project's close completes, the recipe's deadlocks in drain", () => {
  assertEquals(
    fill(toolVerdict(denoBye()).text, toolVerdict(denoBye()).ms),
    "returns; the session closed 2.5 s after the tool call",
  );
  const stuck = toolVerdict(pythonBye()).text;
  assertMatch(
    stuck,
    /^deadlock: the session never closed; 22\.7 s after the tool call end_session was still awaiting session\.drain\(\)$/,
  );
  // Without the dump showing drain, it is only "never closed", not a diagnosed deadlock.
  assertMatch(toolVerdict({ ...pythonBye(), stuck: [] }).text, /^the session never closed/);
  assertEquals(
    toolVerdict({ ...pythonBye(), toolCalledAt: undefined, byeTries: 3 }).text,
    "the bye was never transcribed (said 3 time(s); load 1)",
  );
  assertEquals(
    toolVerdict({ ...pythonBye(), toolCalledAt: undefined, byeTries: 1, transcribed: [BYE] }).text,
    "the LLM never called end_session (bye said 1 time(s))",
  );
  assertEquals(goodbyeVerdict(denoBye()).text, "heard in full");
  assertMatch(
    goodbyeVerdict({ ...denoBye(), goodbye: { ...heard, inFull: false, coverage: 0.5 } }).text,
    /^cut \(50 % of it heard\)$/,
  );
  assertEquals(
    goodbyeVerdict({
      ...denoBye(),
      goodbye: { ...heard, inFull: false, coverage: 0.9, endHeard: 0 },
    }).text,
    "cut (90 % of it heard, its end missing)",
  );
  assertEquals(
    goodbyeVerdict({ ...denoBye(), goodbye: { found: false, inFull: false } }).text,
    "no goodbye was said",
  );
  assertEquals(endingVerdict(denoBye()).text, "yes: room deleted (ROOM_DELETED), job ended");
  assertEquals(
    endingVerdict(pythonBye()).text,
    "no: 20.0 s after the goodbye, room still there, job still running; once the caller hung up, the job was still running 30.0 s later",
  );
  const s = silenceVerdict(denoBye());
  assertEquals(fill(s.text, s.ms), "600 ms, then ROOM_DELETED");
  assertEquals(silenceVerdict(pythonBye()).text, "never, within the 20.0 s waited");
  const failed = { ...pythonBye(), error: "no agent came in 5 fresh room(s): x (worker tail: y)" };
  assertEquals(
    silenceVerdict(failed).text,
    "not measured (load 1): no agent came in 5 fresh room(s): x",
  );
});

Deno.test("cell: one verdict with its median figure; disagreeing runs counted", () => {
  const v = [denoBye(2000), denoBye(3000), denoBye(2600)].map(toolVerdict);
  assertEquals(cell(v), "returns; the session closed 2.6 s after the tool call (3/3 runs)");
  assertEquals(
    cell([toolVerdict(denoBye(1000))]),
    "returns; the session closed 1.0 s after the tool call",
  );
  const mixed = cell([silenceVerdict(denoBye()), silenceVerdict(pythonBye())]);
  assertEquals(
    mixed,
    "600 ms, then ROOM_DELETED (1/2 runs); never, within the 20.0 s waited (1/2 runs)",
  );
  assertEquals(cell([]), "");
});

Deno.test("hang-up, SIGTERM, LLM failure, talk-over verdicts say what happened", () => {
  const hang: HangupRecord = {
    ...base("hangup_first", "python"),
    hungUpAt: T,
    goodbyeAfterHangup: true,
    boundMs: 30_000,
  };
  assertEquals(
    hangupVerdict(hang).text,
    "yes, for nobody (synthesized, paid, unheard); the job was still running 30.0 s after the hang-up",
  );
  const skipped = hangupVerdict({
    ...hang,
    runtime: "deno",
    goodbyeAfterHangup: false,
    jobEndedMs: 600,
  });
  assertEquals(
    fill(skipped.text, skipped.ms),
    "no, skipped; the job ended 0.6 s after the hang-up",
  );

  const term: SigtermRecord = {
    ...base("sigterm", "deno"),
    toolCalled: true,
    goodbye: heard,
    disconnect: { reason: "ROOM_DELETED", at: T + 4000 },
    exit: { code: 143, afterSignalMs: 5400, forced: false, leftovers: 0 },
    exitBoundMs: 30_000,
    stuck: [],
  };
  const t = sigtermVerdict(term);
  assertEquals(
    fill(t.text, t.ms),
    "the call went on; bye: goodbye heard in full, caller disconnected (ROOM_DELETED); the worker exited 143 5.4 s after the signal, nothing left behind",
  );
  const killed = sigtermVerdict({
    ...term,
    runtime: "python",
    disconnect: undefined,
    exit: { code: 137, afterSignalMs: 40_000, forced: true, leftovers: 0 },
    stuck: pythonBye().stuck,
  });
  assertStringIncludes(
    killed.text,
    "caller never disconnected; the worker had not exited 30.0 s after the goodbye, its job stuck in end_session's drain (killed)",
  );

  const fail: LlmFailureRecord = {
    ...base("llm_fails", "python"),
    failedRequests: 4,
    saidAfterFailure: [],
    heardAfterFailure: 0,
    windowMs: 30_000,
    retry: { toolCalled: true, goodbye: heard },
  };
  assertEquals(
    llmFailureVerdict(fail).text,
    "4 failed LLM requests in 30.0 s; the caller heard nothing, the call went on; with the LLM back, bye again: goodbye heard in full, caller never disconnected",
  );
  assertStringIncludes(
    llmFailureVerdict({
      ...fail,
      saidAfterFailure: ["Sorry.", "Again?"],
      retry: { toolCalled: true, goodbye: heard, disconnect: { reason: "ROOM_DELETED", at: T } },
    }).text,
    'the agent said "Sorry. Again?", the call went on; with the LLM back, bye again: goodbye heard in full, call ended (ROOM_DELETED)',
  );

  const talk: TalkOverRecord = {
    ...base("talk_over", "deno"),
    toolCalledAt: T,
    question: { startAt: T + 3000, endAt: T + 4000, cut: true },
    goodbye: heard,
    questionTranscribed: false,
    answerRequested: false,
    saidAfterQuestion: [],
    disconnect: { reason: "ROOM_DELETED", at: T + 4000 },
    silenceBoundMs: 20_000,
  };
  assertEquals(
    talkOverVerdict(talk).text,
    "goodbye heard in full; the question was not transcribed, not answered; call ended (ROOM_DELETED) while the caller spoke",
  );
  assertStringIncludes(
    talkOverVerdict({
      ...talk,
      disconnect: undefined,
      answerRequested: true,
      questionTranscribed: true,
    }).text,
    "the question went to the LLM (paid), no answer spoken; caller never disconnected (20.0 s)",
  );
});

Deno.test("behaviourRows/behaviourList: a row per question, a line per runtime", () => {
  const records: ScenarioRecord[] = [denoBye(), pythonBye()];
  const rows = behaviourRows(records, ["deno", "python"]);
  // Four questions answered by `bye`, plus the dispatch row; no row for scenarios not run.
  assertEquals(rows.length, 5);
  assertEquals(rows[0].cells.python?.startsWith("deadlock"), true);
  assertEquals(rows.at(-1)?.cells.deno, "bye 1");
  const list = behaviourList(rows, ["deno", "python"]);
  const blocks = list.split("\n\n");
  assertEquals(blocks.length, 2 * rows.length);
  assertEquals(blocks[0], `**${rows[0].question}**`);
  assertEquals(blocks[1].split("\n").length, 2);
  assert(blocks[1].startsWith("- This project (Deno): "), blocks[1]);
  assert(blocks[1].split("\n")[1].startsWith("- LiveKit's recipe (Python): deadlock"), blocks[1]);
  const missing = behaviourList([{ question: "q", scenario: "bye", cells: { deno: "x" } }], [
    "deno",
    "python",
  ]);
  assertEquals(missing, "**q**\n\n- This project (Deno): x\n- LiveKit's recipe (Python): n/a");
  assertEquals(behaviourList([], ["deno"]), "- (no scenario ran)");
});
