/**
 * The exit flow's behaviour in a real room, one scenario per question of issue 11, run the same
 * way against any {@link RoomAgent} (this project under Deno or Node, LiveKit's recipe under
 * Python). Each scenario starts its own worker, places one call (`callAgent`), drives it with
 * the caller's phrases, observes with bounded waits only, and ends everything it started by PID.
 * A scenario records what happened, including "nothing, within the N ms we waited"
 * (`room_records.ts`); the verdicts (`room_verdicts.ts`) are drawn from these records. The
 * caller's moves and the waits on the call are `room_call.ts`.
 *
 * - `bye`: hello, the reply, bye; does `end_session` return (the session closes), is "Goodbye!"
 *   heard in full, is the caller disconnected (and after how much silence), is the room deleted,
 *   does the job end; if the caller is still there at the bound it hangs up, and the job is
 *   watched for a while longer.
 * - `hangup_first`: hello, the reply, the caller hangs up: is a goodbye synthesized anyway, does
 *   the job end.
 * - `sigterm`: hello, the reply, SIGTERM to the worker, then bye: does the call go on to its
 *   goodbye, does the worker exit (code, time, processes left).
 * - `llm_fails`: hello, the reply, then every LLM request fails (HTTP 500) and the caller says
 *   bye: what the caller hears, whether the call ends; then the LLM recovers and the caller says
 *   bye once more.
 * - `talk_over`: the caller says bye and, as soon as the goodbye is synthesized, starts a
 *   question that lasts past the goodbye's end: is the goodbye heard in full (or interrupted),
 *   is the question answered, does the call end.
 *
 * @module
 */
import { GOODBYE } from "../../agent.ts";
import { type Caller, epochMs } from "../../testing/real_room/caller/mod.ts";
import { BYE, QUESTION, type RealRoom } from "../../testing/real_room/real_room.ts";
import { sleep } from "../proc.ts";
import {
  type AgentRuntime,
  callAgent,
  NoDispatch,
  type Peers,
  RoomAgent,
  type RoomAgentOptions,
} from "./room_agent.ts";
import {
  disconnectWithin,
  epochOf,
  firstSentence,
  gatewayEvent,
  goodbyeAfter,
  goodbyeFrom,
  hello,
  jobStory,
  saidSince,
  sayBye,
  sayInCall,
  sayOrGone,
  within,
} from "./room_call.ts";
import {
  type ByeRecord,
  DEFAULT_BOUNDS,
  type HangupRecord,
  type LlmFailureRecord,
  type ScenarioBase,
  type ScenarioBounds,
  type ScenarioName,
  type ScenarioRecord,
  type SigtermRecord,
  type TalkOverRecord,
} from "./room_records.ts";

/** The load average (1 min), NaN where `/proc` cannot tell. */
function loadNow(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  bounds?: Partial<ScenarioBounds>;
  agent?: RoomAgentOptions;
}

/**
 * Runs one scenario against a fresh worker of `runtime` in `room` (whose gateway faults it may
 * set and always clears), and returns its record. The worker and the caller are ended by PID
 * whatever happens; a failed step ends up in `error`, with what was seen until then.
 */
export async function runScenario(
  room: RealRoom,
  scenario: ScenarioName,
  runtime: AgentRuntime,
  peers: Peers,
  opts: ScenarioOptions = {},
): Promise<ScenarioRecord> {
  const bounds = { ...DEFAULT_BOUNDS, ...opts.bounds };
  const startedAt = epochMs();
  const base: ScenarioBase = {
    scenario,
    runtime,
    startedAt,
    load: [loadNow(), NaN],
    dispatchTries: 0,
    synthesized: [],
    transcribed: [],
    jobLog: [],
  };
  const record = initial(scenario, base, bounds);
  let agent: RoomAgent | undefined;
  let caller: Caller | undefined;
  try {
    agent = await RoomAgent.start(room, runtime, peers, {
      logLevel: runtime === "python" ? "debug" : "info",
      ...opts.agent,
    });
    const d = await callAgent(room, agent, scenario.replace("_", "-"));
    caller = d.caller;
    record.dispatchTries = d.tries;
    record.replyLatencyMs = await hello(caller);
    await STEPS[scenario](room, agent, caller, record as never, bounds);
  } catch (error) {
    if (error instanceof NoDispatch) record.dispatchTries = 0;
    record.error = firstSentence(error);
    if (agent) {
      record.error += ` (worker tail: ${agent.tail(3).replace(/\s+/g, " ").slice(0, 300)})`;
    }
  } finally {
    delete room.gateway.faults.llm;
    record.synthesized = saidSince(room, startedAt);
    record.transcribed = room.gateway.log.flatMap((e) =>
      e.kind === "stt_final" && epochOf(e) >= startedAt ? [e.text] : []
    );
    if (caller && !caller.events().some((e) => e.ev === "disconnected")) {
      await caller.hangup().catch(() => {});
    }
    if (agent && caller) record.jobLog = jobStory(agent, caller.room);
    if (agent) record.crash = agent.crash(agent.proc.child.startedAt);
    await agent?.kill();
    record.load[1] = loadNow();
  }
  return record;
}

function initial(
  scenario: ScenarioName,
  base: ScenarioBase,
  b: ScenarioBounds,
): ScenarioRecord {
  switch (scenario) {
    case "bye":
      return {
        ...base,
        scenario,
        stuck: [],
        silenceFrom: NaN,
        silenceBoundMs: b.silenceMs,
      };
    case "hangup_first":
      return { ...base, scenario, boundMs: b.jobEndMs };
    case "sigterm":
      return { ...base, scenario, exitBoundMs: b.sigtermExitMs, stuck: [] };
    case "llm_fails":
      return {
        ...base,
        scenario,
        failedRequests: 0,
        saidAfterFailure: [],
        heardAfterFailure: 0,
        windowMs: b.llmFailureMs,
      };
    case "talk_over":
      return {
        ...base,
        scenario,
        questionTranscribed: false,
        answerRequested: false,
        saidAfterQuestion: [],
        silenceBoundMs: b.silenceMs,
      };
  }
}

type Step<R extends ScenarioRecord> = (
  room: RealRoom,
  agent: RoomAgent,
  caller: Caller,
  record: R,
  bounds: ScenarioBounds,
) => Promise<void>;

const bye: Step<ByeRecord> = async (room, agent, caller, r, b) => {
  const { said, tool } = await sayBye(room, caller, r);
  const first = caller.waitFor("heard_start", 20_000, (e) => e.at >= said.endAt)
    .then((e) => e.at - said.endAt, () => undefined);
  r.toolCalledAt = tool && epochOf(tool);
  r.goodbye = await goodbyeAfter(room, caller, said.startAt);
  r.byeToFirstAudioMs = await first;
  r.silenceFrom = r.goodbye.endAt ?? said.endAt;
  r.disconnect = await disconnectWithin(
    caller,
    Math.max(0, r.silenceFrom + b.silenceMs - epochMs()),
  );
  if (r.disconnect) {
    // The job ends right after the disconnect; give it a moment, bounded.
    await within(10_000, () => agent.jobEnded(caller.room));
  }
  const closed = agent.sessionClosedAt(caller.room);
  r.sessionClosedAt = closed === undefined ? undefined : performance.timeOrigin + closed;
  r.endReason = agent.sessionEnded(caller.room)?.end_reason as string | undefined;
  r.roomListed = (await room.server.roomNames()).includes(caller.room);
  r.jobEnded = agent.jobEnded(caller.room);
  if (r.sessionClosedAt === undefined) r.stuck = await agent.stuckTasks(caller.room);
  if (!r.disconnect) {
    await caller.hangup();
    const ms = await within(b.jobEndMs, () => agent.jobEnded(caller.room));
    r.afterHangup = { jobEndedMs: ms, boundMs: b.jobEndMs };
  }
};

const hangupFirst: Step<HangupRecord> = async (room, agent, caller, r, b) => {
  r.hungUpAt = epochMs();
  await caller.hangup();
  r.jobEndedMs = await within(b.jobEndMs, () => agent.jobEnded(caller.room));
  // A goodbye the close asks for reaches the gateway before the job ends; when the job did not
  // end, the whole bound has passed, so the gateway log is complete either way.
  r.goodbyeAfterHangup = saidSince(room, r.hungUpAt).includes(GOODBYE);
  const ended = agent.sessionEnded(caller.room);
  r.endReason = ended?.end_reason as string | undefined;
  r.goodbyeOutcome = ended?.goodbye as string | undefined;
};

const sigterm: Step<SigtermRecord> = async (room, agent, caller, r, b) => {
  r.signalledAt = epochMs();
  const signalledPerf = performance.now();
  Deno.kill(agent.pid, "SIGTERM");
  const { said, tool } = await sayBye(room, caller, r);
  r.toolCalled = tool !== undefined;
  r.goodbye = await goodbyeAfter(room, caller, said.startAt);
  const from = r.goodbye.endAt ?? said.endAt;
  r.disconnect = await disconnectWithin(caller, Math.max(0, from + b.silenceMs - epochMs()));
  const left = Math.max(0, from + b.sigtermExitMs - epochMs());
  const exited = await Promise.race([
    agent.proc.child.exited.then((e) => e),
    sleep(left).then(() => undefined),
  ]);
  if (!exited) r.stuck = await agent.stuckTasks(caller.room);
  // Nothing more is sent: the signal went out above; this only collects the exit (or kills).
  const stop = await agent.stop(null, 0);
  r.exit = {
    code: stop.code,
    afterSignalMs: (exited?.t ?? performance.now()) - signalledPerf,
    forced: !exited,
    leftovers: stop.leftovers.length,
  };
};

const llmFails: Step<LlmFailureRecord> = async (room, agent, caller, r, b) => {
  room.gateway.faults.llm = "error";
  const said = await sayInCall(caller, BYE);
  r.byeAt = said.endAt;
  r.disconnect = await disconnectWithin(caller, b.llmFailureMs);
  r.failedRequests =
    room.gateway.log.filter((e) =>
      e.kind === "fault" && e.target === "llm" && epochOf(e) >= said.startAt
    ).length;
  r.saidAfterFailure = saidSince(room, said.startAt);
  r.heardAfterFailure = caller.heard().filter((h) => h.startAt >= said.endAt).length;
  const closed = agent.sessionClosedAt(caller.room);
  r.sessionClosedAt = closed === undefined ? undefined : performance.timeOrigin + closed;
  delete room.gateway.faults.llm;
  if (r.disconnect) return;
  const { said: again, tool } = await sayBye(room, caller, r);
  const goodbye = await goodbyeAfter(room, caller, again.startAt);
  const from = goodbye.endAt ?? again.endAt;
  r.retry = {
    toolCalled: tool !== undefined,
    goodbye,
    disconnect: await disconnectWithin(caller, Math.max(0, from + b.silenceMs - epochMs())),
  };
};

const talkOver: Step<TalkOverRecord> = async (room, _agent, caller, r, b) => {
  const { said, tool } = await sayBye(room, caller, r);
  if (!tool) throw new Error("the LLM did not call end_session after bye");
  r.toolCalledAt = epochOf(tool);
  const asked = await gatewayEvent(
    room,
    said.startAt,
    (e) => e.kind === "tts_transcript" && e.text.trim() === GOODBYE,
    20_000,
  );
  if (!asked) throw new Error("no goodbye was synthesized after end_session");
  // The caller starts a question as the goodbye is on its way to it, and speaks on past the
  // goodbye's end (1.7 s against 0.5 s): the goodbye plays while the caller talks.
  const q = await sayOrGone(caller, QUESTION);
  r.question = q.said ?? { startAt: epochOf(asked), endAt: q.gone.at, cut: true };
  r.goodbye = await goodbyeFrom(caller, epochOf(asked));
  const from = Math.max(r.question.endAt, r.goodbye.endAt ?? 0);
  r.disconnect = q.gone ??
    await disconnectWithin(caller, Math.max(0, from + b.silenceMs - epochMs()));
  const qStart = r.question.startAt;
  r.questionTranscribed = room.gateway.log.some((e) =>
    e.kind === "stt_final" && e.text === QUESTION && epochOf(e) >= qStart
  );
  r.answerRequested = room.gateway.log.some((e) =>
    e.kind === "llm_request" && epochOf(e) >= qStart &&
    e.messages.some((m) => m.role === "user" && JSON.stringify(m.content).includes(QUESTION))
  );
  r.saidAfterQuestion = saidSince(room, qStart).filter((t) => t !== GOODBYE);
};

const STEPS: { [K in ScenarioName]: Step<Extract<ScenarioRecord, { scenario: K }>> } = {
  bye,
  hangup_first: hangupFirst,
  sigterm,
  llm_fails: llmFails,
  talk_over: talkOver,
};
