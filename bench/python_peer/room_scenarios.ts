/**
 * The exit flow's behaviour in a real room, one scenario per question of issue 11, run the same
 * way against any {@link RoomAgent} (this project under Deno or Node, LiveKit's recipe under
 * Python). Each scenario starts its own worker, places one call (`callAgent`), drives it with
 * the caller's phrases, observes with bounded waits only, and ends everything it started by PID.
 * A scenario records what happened, including "nothing, within the N ms we waited"; the
 * verdicts (`room_verdicts.ts`) are drawn from these records.
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
import { readWavFile } from "../../console/wav.ts";
import { type Caller, CALLER_SAMPLE_RATE, epochMs } from "../../testing/real_room/caller/mod.ts";
import { findHeard, type HeardMatch, inFull } from "../../testing/real_room/caller/heard.ts";
import { BYE, HELLO, QUESTION, type RealRoom } from "../../testing/real_room/real_room.ts";
import type { GatewayEvent } from "../../simulation/mod.ts";
import { sleep } from "../proc.ts";
import type { StuckTask } from "./console_run.ts";
import {
  type AgentRuntime,
  callAgent,
  NoDispatch,
  type Peers,
  RoomAgent,
  type RoomAgentOptions,
} from "./room_agent.ts";

/** The scenarios, in the order they run. */
export const SCENARIOS = ["bye", "hangup_first", "sigterm", "llm_fails", "talk_over"] as const;
/** One scenario's name. */
export type ScenarioName = typeof SCENARIOS[number];

/** Bounds of the waits (ms); the defaults are what the bench uses. */
export interface ScenarioBounds {
  /** How long the caller waits after the goodbye (or the bye) to be disconnected. */
  silenceMs: number;
  /** How long a job is watched for its end once the caller has hung up. */
  jobEndMs: number;
  /** How long the worker gets to exit after SIGTERM, counted from the goodbye. */
  sigtermExitMs: number;
  /** How long the call is watched after the failing bye. */
  llmFailureMs: number;
}

/** The default bounds. */
export const DEFAULT_BOUNDS: ScenarioBounds = {
  silenceMs: 20_000,
  jobEndMs: 30_000,
  sigtermExitMs: 30_000,
  llmFailureMs: 30_000,
};

/** The goodbye as the caller heard it. */
export interface GoodbyeHeard {
  /** The simulation was asked to synthesize "Goodbye!" (epoch ms), when it was. */
  synthesizedAt?: number;
  /** Found in the caller's recording, in full or not. */
  found: boolean;
  inFull: boolean;
  coverage?: number;
  correlation?: number;
  /** Epoch ms of its start and end in the recording. */
  startAt?: number;
  endAt?: number;
}

/** What every scenario records. */
export interface ScenarioBase {
  scenario: ScenarioName;
  runtime: AgentRuntime;
  /** Epoch ms at the start. */
  startedAt: number;
  /** Load average (1 min) at the start and the end. */
  load: [number, number];
  /** Fresh rooms it took until an agent came (0 when none came). */
  dispatchTries: number;
  /** Set when the scenario could not run to its end (no dispatch, a step that timed out). */
  error?: string;
  /** End of hello → first reply audio heard, ms. */
  replyLatencyMs?: number;
  /** Everything the agent asked the TTS to say during the call, in order. */
  synthesized: string[];
  /** Everything the simulated STT transcribed during the call, in order. */
  transcribed: string[];
  /** The job's warnings and errors, and its lines about the ending, trimmed (for the why). */
  jobLog: string[];
  /** A crash a process of the worker printed during the scenario (the error and where). */
  crash?: string;
  /**
   * Times the caller said bye until the LLM called `end_session` (a phrase the STT misheard,
   * which a loaded machine causes now and then, is said again; at most {@link BYE_ATTEMPTS}).
   */
  byeTries?: number;
}

/** `bye`. */
export interface ByeRecord extends ScenarioBase {
  scenario: "bye";
  /** The LLM asked for `end_session` (epoch ms). */
  toolCalledAt?: number;
  /** End of bye → first agent audio heard, ms. */
  byeToFirstAudioMs?: number;
  goodbye?: GoodbyeHeard;
  /** The session said it closed (epoch ms): this project's `session ended`, Python's `session closed`. */
  sessionClosedAt?: number;
  /** This project's end reason and goodbye outcome, from its `session ended` line. */
  endReason?: string;
  /** Where `end_session` was still waiting when the silence bound ran out (Python task dump). */
  stuck: StuckTask[];
  /** The caller's disconnect, when it came within the bound. */
  disconnect?: { reason: string; at: number };
  /** From this epoch ms the caller waited for its disconnect (end of the goodbye, else the bye). */
  silenceFrom: number;
  silenceBoundMs: number;
  /** The room was still listed by the server when the wait ended. */
  roomListed?: boolean;
  /** The job process had ended when the wait ended (or shortly after the disconnect). */
  jobEnded?: boolean;
  /** When the caller had to hang up itself: did the job end within `jobEndMs` after that? */
  afterHangup?: { jobEndedMs?: number; boundMs: number };
}

/** `hangup_first`. */
export interface HangupRecord extends ScenarioBase {
  scenario: "hangup_first";
  hungUpAt?: number;
  /** "Goodbye!" was sent to the TTS after the caller had left. */
  goodbyeAfterHangup?: boolean;
  /** Hang-up → the job process ended, within `boundMs`. */
  jobEndedMs?: number;
  boundMs: number;
  /** This project's `session ended` fields (end reason, goodbye outcome). */
  endReason?: string;
  goodbyeOutcome?: string;
}

/** `sigterm`. */
export interface SigtermRecord extends ScenarioBase {
  scenario: "sigterm";
  signalledAt?: number;
  /** The bye after the signal: the LLM called `end_session`. */
  toolCalled?: boolean;
  goodbye?: GoodbyeHeard;
  disconnect?: { reason: string; at: number };
  /** Worker exit after the signal: code, ms, whether it had to be killed, processes left. */
  exit?: { code: number; afterSignalMs: number; forced: boolean; leftovers: number };
  /** The bound, counted from the goodbye (or the bye when there was none). */
  exitBoundMs: number;
  stuck: StuckTask[];
}

/** `llm_fails`. */
export interface LlmFailureRecord extends ScenarioBase {
  scenario: "llm_fails";
  byeAt?: number;
  /** LLM requests that failed during the window (retries included). */
  failedRequests: number;
  /** What the agent asked the TTS to say after the failing bye, in order. */
  saidAfterFailure: string[];
  /** Stretches of agent audio the caller heard after the failing bye. */
  heardAfterFailure: number;
  /** The call ended during the window (the caller's disconnect). */
  disconnect?: { reason: string; at: number };
  sessionClosedAt?: number;
  windowMs: number;
  /** With the LLM back, the caller said bye again (when still connected). */
  retry?: {
    toolCalled: boolean;
    goodbye?: GoodbyeHeard;
    disconnect?: { reason: string; at: number };
  };
}

/** `talk_over`. */
export interface TalkOverRecord extends ScenarioBase {
  scenario: "talk_over";
  toolCalledAt?: number;
  /** The caller's question: start and end (epoch ms); `cut` when the call ended mid-question. */
  question?: { startAt: number; endAt: number; cut?: boolean };
  goodbye?: GoodbyeHeard;
  /** The STT transcribed the question. */
  questionTranscribed: boolean;
  /** The LLM was asked to answer it. */
  answerRequested: boolean;
  /** What the agent asked the TTS to say after the question started, besides the goodbye. */
  saidAfterQuestion: string[];
  disconnect?: { reason: string; at: number };
  silenceBoundMs: number;
}

/** Any scenario's record. */
export type ScenarioRecord =
  | ByeRecord
  | HangupRecord
  | SigtermRecord
  | LlmFailureRecord
  | TalkOverRecord;

/** Epoch ms of a gateway event (the gateway runs in this process). */
function epochOf(e: GatewayEvent): number {
  return performance.timeOrigin + e.t;
}

function loadNow(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** The first gateway event passing `pred` at or after `after` (epoch ms), within `ms`. */
async function gatewayEvent(
  room: RealRoom,
  after: number,
  pred: (e: GatewayEvent) => boolean,
  ms: number,
): Promise<GatewayEvent | undefined> {
  try {
    return await room.gateway.waitFor((e) => epochOf(e) >= after && pred(e), ms);
  } catch {
    return undefined;
  }
}

/** What the agent asked the TTS to say from `after` (epoch ms) on. */
function saidSince(room: RealRoom, after: number): string[] {
  return room.gateway.log.flatMap((e) =>
    e.kind === "tts_transcript" && epochOf(e) >= after ? [e.text.trim()] : []
  );
}

async function disconnectWithin(
  caller: Caller,
  ms: number,
): Promise<{ reason: string; at: number } | undefined> {
  try {
    const e = await caller.disconnected(ms);
    return { reason: e.reason, at: e.at };
  } catch {
    return undefined;
  }
}

/**
 * Looks for `text` in the caller's recording from `notBefore` (epoch ms) on: after each stretch
 * of agent audio that ends after `notBefore` (the caller reports it when a silence or its
 * disconnect closes it), the recording is saved once and searched, until `text` is found with a
 * little recording after it, or `ms` passed. Searching only when a stretch ended keeps the
 * analysis (which costs CPU) off the machine while the calls are measured. Never throws.
 */
export async function heardMatch(
  caller: Caller,
  text: string,
  notBefore: number,
  ms: number,
): Promise<HeardMatch | undefined> {
  const path = await Deno.makeTempFile({ prefix: "side-by-side-", suffix: ".wav" });
  const deadline = performance.now() + ms;
  let after = notBefore;
  let match: HeardMatch | undefined;
  try {
    for (;;) {
      const left = deadline - performance.now();
      const stretch = left <= 0 ? undefined : await caller.waitFor(
        "heard",
        left,
        (e) => e.endAt > after,
        `agent audio after +${Math.round(after - notBefore)} ms`,
      ).catch(() => undefined);
      // A moment of recording after the stretch, so a match can show it was not cut.
      await sleep(300);
      const asked = epochMs();
      const saved = await caller.save(path);
      const wav = await readWavFile(path);
      const gone = caller.events().find((e) => e.ev === "disconnected");
      const endAt = gone?.ev === "disconnected" ? gone.at : asked;
      const startAt = saved.startAt + recordingDrift(endAt, saved);
      match = findHeard({ startAt, samples: wav.samples }, text, notBefore);
      if ((match && match.recordedAfterMs >= 100) || !stretch) return match;
      after = stretch.endAt;
    }
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * How far the recording's timeline lags the clock at its end, ms (0 when under 250 ms). The
 * caller stamps only the recording's first sample and counts 10 ms per sample block after it; a
 * caller process starved of CPU on a loaded machine loses received frames, so over a long call
 * the recording comes out shorter than the time it spans, and an utterance near its end would
 * be looked for too late. `endAt` is when the recording ended: the caller's disconnect, or else
 * when it was asked to save (the agent's track delivers frames, silence included, until then).
 */
export function recordingDrift(
  endAt: number,
  saved: { startAt: number; samples: number },
): number {
  const drift = endAt - (saved.startAt + (saved.samples / CALLER_SAMPLE_RATE) * 1000);
  return drift > 250 ? drift : 0;
}

/** Waits for "Goodbye!" to be synthesized after `after`, then for the caller to hear it. */
async function goodbyeAfter(
  room: RealRoom,
  caller: Caller,
  after: number,
  ms = 20_000,
): Promise<GoodbyeHeard> {
  const asked = await gatewayEvent(
    room,
    after,
    (e) => e.kind === "tts_transcript" && e.text.trim() === GOODBYE,
    ms,
  );
  if (!asked) return { found: false, inFull: false };
  return await goodbyeFrom(caller, epochOf(asked), ms);
}

/** The goodbye synthesized at `synthesizedAt` (epoch ms), as the caller heard it. */
async function goodbyeFrom(
  caller: Caller,
  synthesizedAt: number,
  ms = 20_000,
): Promise<GoodbyeHeard> {
  const m = await heardMatch(caller, GOODBYE, synthesizedAt, ms);
  return {
    synthesizedAt,
    found: m !== undefined,
    inFull: inFull(m),
    coverage: m?.coverage,
    correlation: m?.correlation,
    startAt: m?.startAt,
    endAt: m?.endAt,
  };
}

/** The caller's words were said in full, or the call ended while it spoke. */
export type SaidOrGone =
  | { said: { startAt: number; endAt: number }; gone?: undefined }
  | { said?: undefined; gone: { reason: string; at: number } };

/**
 * Says `text`, and resolves when it was said or when the call ended first (the agent deleted the
 * room while the caller spoke), whichever comes first; rejects only after `timeoutMs`.
 */
export async function sayOrGone(
  caller: Caller,
  text: string,
  timeoutMs = 30_000,
): Promise<SaidOrGone> {
  const gone = caller.events().find((e) => e.ev === "disconnected");
  if (gone?.ev === "disconnected") return { gone: { reason: gone.reason, at: gone.at } };
  const since = caller.phones.events.length;
  await caller.phones.send({
    op: "say",
    id: caller.id,
    text,
    pitchHz: caller.phones.pitchOf(text),
  });
  const e = await caller.phones.waitFor(
    (e) =>
      "id" in e && e.id === caller.id && caller.phones.events.indexOf(e) >= since &&
      ((e.ev === "said" && e.text === text) || e.ev === "disconnected"),
    timeoutMs,
    `${caller.id} to say "${text}" (or the call to end)`,
  );
  if (e.ev === "said") return { said: { startAt: e.startAt, endAt: e.endAt } };
  if (e.ev === "disconnected") return { gone: { reason: e.reason, at: e.at } };
  throw new Error(`unexpected caller event ${e.ev}`);
}

/** Says `text`; throws, saying why, when the call ended before it was said. */
export async function sayInCall(
  caller: Caller,
  text: string,
): Promise<{ startAt: number; endAt: number }> {
  const r = await sayOrGone(caller, text);
  if (r.gone) {
    throw new Error(
      `the call ended (${r.gone.reason}) before "${text}" was said: the simulated STT took an ` +
        "earlier phrase for a goodbye (it recognizes phrases by pitch; a starved caller can garble one)",
    );
  }
  return r.said;
}

/** Says hello and waits for the reply to be heard; returns its latency (end of hello → audio). */
async function hello(caller: Caller): Promise<number> {
  const said = await sayInCall(caller, HELLO);
  try {
    const first = await caller.waitFor("heard_start", 30_000, (e) => e.at >= said.endAt);
    await caller.waitFor("heard", 30_000, (e) => e.startAt >= said.endAt);
    return first.at - said.endAt;
  } catch {
    throw new Error(`no reply to "${HELLO}" heard within 30 s`);
  }
}

/** Waits until `check` holds or `ms` passes; returns the ms it took, or undefined. */
async function within(ms: number, check: () => boolean): Promise<number | undefined> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > ms) return undefined;
    await sleep(100);
  }
  return performance.now() - t0;
}

/** Times a bye is said at most when the STT mishears it. */
export const BYE_ATTEMPTS = 3;

/**
 * Says bye until the LLM calls `end_session` (at most {@link BYE_ATTEMPTS} times): the simulated
 * STT recognizes a phrase by its pitch, and a caller starved by a loaded machine may garble it
 * past recognition; then the agent answers something else, and the caller says it again once
 * that answer is over. Returns the bye that worked and the tool call, or the last bye.
 */
async function sayBye(
  room: RealRoom,
  caller: Caller,
  record: ScenarioBase,
): Promise<{ said: { startAt: number; endAt: number }; tool?: GatewayEvent }> {
  for (let tries = 1;; tries++) {
    const said = await sayInCall(caller, BYE);
    record.byeTries = tries;
    const misheard = gatewayEvent(
      room,
      said.startAt,
      (e) => e.kind === "stt_final" && e.text !== BYE,
      20_000,
    );
    const tool = await Promise.race([
      gatewayEvent(room, said.startAt, toolCall, 20_000),
      misheard.then((e) => (e ? "misheard" as const : undefined)),
    ]);
    if (tool !== "misheard") return { said, tool };
    if (tries >= BYE_ATTEMPTS) return { said };
    // Let the agent's answer to the misheard phrase play out before saying bye again.
    await caller.waitFor("heard", 20_000, (e) => e.startAt >= said.endAt).catch(() => {});
  }
}

/**
 * Lines of the job in `room` worth reading, each message once (with how often it came): those
 * about the ending first, then the other warnings and errors.
 */
export function jobStory(agent: RoomAgent, room: string): string[] {
  const telling =
    /tool|session (ended|closed)|clos|drain|delet|disconnect|shut|exit|goodbye|error/i;
  const counts = new Map<string, { n: number; telling: boolean }>();
  for (const l of agent.roomLines(room)) {
    const level = l.json.level;
    const loud = typeof level === "number"
      ? level >= 40
      : /WARN|ERROR|CRITICAL/.test(String(level));
    if (!loud && !telling.test(l.msg)) continue;
    const key = `${level ?? ""} ${l.msg}`.slice(0, 240);
    const c = counts.get(key) ?? { n: 0, telling: telling.test(l.msg) };
    c.n++;
    counts.set(key, c);
  }
  return [...counts].sort(([, a], [, b]) => Number(b.telling) - Number(a.telling))
    .map(([line, c]) => c.n > 1 ? `${line} (${c.n}x)` : line).slice(0, 30);
}

/** An error's message up to its first line break or its first "; " (the details after it). */
export function firstSentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].split("; ")[0];
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

const toolCall = (e: GatewayEvent) => e.kind === "llm_tool_call" && e.name === "end_session";

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
