/**
 * One call of a density level, from its caller's side: join a fresh room, wait for the agent,
 * say hello and hear the reply, wait until every call of the level got that far, then ask
 * questions until the talking stretch is over (each reply heard before the next question), then
 * say bye, look for "Goodbye!" in the recording, and wait (bounded) to be disconnected; a caller
 * that is not hangs up. Every wait is bounded; a call that fails says why in its record.
 *
 * @module
 */
import { GOODBYE } from "../../agent.ts";
import { type CallerProcess, epochMs } from "../../testing/real_room/caller/mod.ts";
import type { Caller, ServerAccess } from "../../testing/real_room/caller/mod.ts";
import { inFull } from "../../testing/real_room/caller/heard.ts";
import { BYE, HELLO, QUESTION } from "../../testing/real_room/real_room.ts";
import { sleep } from "../proc.ts";
import { BYE_ATTEMPTS, firstSentence, heardMatch, sayInCall } from "../python_peer/room_call.ts";
import type { CallRecord } from "./samples.ts";

/** Bound on the agent's arrival in a fresh room. */
export const ANSWER_BOUND_MS = 60_000;
/** Bound on a reply (a call whose reply takes longer fails). */
export const REPLY_BOUND_MS = 30_000;
/** Bound on finding the goodbye in the recording after a bye. */
export const GOODBYE_BOUND_MS = 20_000;
/**
 * The caller's pause between hearing a reply end and asking the next question: people do not
 * answer in the same 10 ms frame. Pacing, not a wait for a condition.
 */
export const THINK_MS = 500;

/** What the level shares with its calls: the barrier of "every call is in" and the stretch. */
export interface Stretch {
  /** Called once this call heard its hello answered, or gave up before. */
  arrive: () => void;
  /** Resolves with the end of the talking stretch (`performance.now()`) once every call arrived. */
  talkUntil: Promise<number>;
}

/** A reply to what was said at `endAt`: its latency, once the reply has ended. */
async function replyTo(caller: Caller, endAt: number, what: string): Promise<number> {
  try {
    const first = await caller.waitFor("heard_start", REPLY_BOUND_MS, (e) => e.at >= endAt);
    await caller.waitFor("heard", REPLY_BOUND_MS, (e) => e.startAt >= endAt);
    return first.at - endAt;
  } catch {
    throw new Error(`no reply to ${what} heard within ${REPLY_BOUND_MS / 1000} s`);
  }
}

/** Runs one call; never throws. */
export async function runCall(
  phones: CallerProcess,
  server: ServerAccess,
  room: string,
  stretch: Stretch,
  silenceMs: number,
): Promise<CallRecord> {
  const call: CallRecord = {
    room,
    answered: false,
    replyLatencyMs: [],
    talkTurns: 0,
    byeSaid: false,
    goodbyeInFull: false,
  };
  let caller: Caller | undefined;
  let arrived = false;
  const arrive = () => {
    if (!arrived) stretch.arrive();
    arrived = true;
  };
  try {
    caller = await phones.join(server, room, { timeoutMs: ANSWER_BOUND_MS });
    const c = caller;
    try {
      await c.waitForAgent(ANSWER_BOUND_MS);
    } catch {
      throw new Error(`no agent came within ${ANSWER_BOUND_MS / 1000} s`);
    }
    call.answered = true;
    const joined = c.events().find((e) => e.ev === "joined");
    const sub = c.events().find((e) => e.ev === "subscribed");
    if (joined && sub) call.agentJoinMs = sub.at - joined.at;
    const hello = await sayInCall(c, HELLO);
    call.replyLatencyMs.push(await replyTo(c, hello.endAt, "hello"));
    arrive();
    const until = await stretch.talkUntil;
    while (performance.now() < until) {
      await sleep(THINK_MS);
      const q = await sayInCall(c, QUESTION);
      call.replyLatencyMs.push(await replyTo(c, q.endAt, "a question"));
      call.talkTurns++;
    }
    // A bye the simulated STT mishears (a starved caller stretches its phrase) gets another
    // answer than the goodbye: then it is said again, at most BYE_ATTEMPTS times.
    await sleep(THINK_MS);
    let bye = await sayInCall(c, BYE);
    call.byeSaid = true;
    call.byeTries = 1;
    let match = await heardMatch(c, GOODBYE, bye.endAt, GOODBYE_BOUND_MS);
    while (
      !match && call.byeTries < BYE_ATTEMPTS && c.heard().some((h) => h.startAt >= bye.endAt) &&
      !c.events().some((e) => e.ev === "disconnected")
    ) {
      bye = await sayInCall(c, BYE);
      call.byeTries++;
      match = await heardMatch(c, GOODBYE, bye.endAt, GOODBYE_BOUND_MS);
    }
    call.goodbyeInFull = inFull(match);
    if (match) call.byeToGoodbyeMs = match.startAt - bye.endAt;
    const from = match?.endAt ?? bye.endAt;
    try {
      const gone = await c.disconnected(Math.max(0, from + silenceMs - epochMs()));
      call.disconnectReason = gone.reason;
      if (match) call.goodbyeEndToGoneMs = gone.at - match.endAt;
    } catch {
      // Not disconnected within the bound: recorded by the absence of a reason; hung up below.
    }
  } catch (error) {
    call.error = firstSentence(error);
  } finally {
    arrive();
    if (caller && !caller.events().some((e) => e.ev === "disconnected")) {
      await caller.hangup().catch(() => {});
    }
    if (caller) {
      const joined = caller.events().find((e) => e.ev === "joined");
      const gone = caller.events().find((e) => e.ev === "disconnected");
      if (joined && gone) call.durationMs = gone.at - joined.at;
    }
  }
  return call;
}
