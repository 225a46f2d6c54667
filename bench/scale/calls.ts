/**
 * One call of the scale benchmark, as a caller lives it: join (through any node), wait for an
 * agent, hello, then bye; what it heard is checked against what the simulation synthesized. Every
 * step is bounded, and a call that fails records where and why instead of throwing.
 *
 * @module
 */
import { type Caller, type CallerEvent, epochMs } from "../../testing/real_room/caller/mod.ts";
import type { ServerAccess } from "../../testing/real_room/caller/mod.ts";
import { served } from "../../testing/real_room/fleet.ts";
import { GOODBYE } from "../../agent.ts";
import { heardInFull } from "../../testing/real_room/room_checks.ts";
import {
  BYE,
  HELLO,
  HELLO_REPLY_FIRST_SENTENCE,
  type RealRoom,
} from "../../testing/real_room/real_room.ts";
import type { WorkerProcess } from "../../testing/real_room/worker_process.ts";

/** What became of one call. */
export interface CallRecord {
  room: string;
  /** Epoch ms the caller joined. */
  joinedAt: number;
  /** Caller joined -> an agent joined (undefined: none came). */
  agentMs?: number;
  /** Index of the worker that served it (in the scenario's list), if known. */
  worker?: number;
  /** The caller heard agent audio after its hello. */
  helloAnswered: boolean;
  /**
   * ...and that audio held the reply's first sentence in full. On a starved machine the first
   * words of a fresh job come out garbled now and then (the rig's known weak spot, see
   * bench/room_load.ts); counted apart, so that it does not hide what the scenario is about.
   */
  helloHeardInFull: boolean;
  goodbyeHeard: boolean;
  /** The caller's disconnect reason. */
  reason?: string;
  /** Caller joined -> it was disconnected, or gave up and hung up. */
  endMs?: number;
  /** The keeper's notice, if it told the caller. */
  notice?: string;
  /** Where it failed, if it did. */
  error?: string;
}

/** Options of {@link runCall}. */
export interface CallOptions {
  /** The node the caller joins through (default the first). */
  via?: ServerAccess;
  /** How long the caller waits for an agent before it gives up (and hangs up). */
  agentWaitMs?: number;
  /** Called once the hello was answered, before bye (keeps the call open: a scenario's event). */
  middle?: (caller: Caller) => Promise<void>;
  /** Room name prefix. */
  prefix?: string;
}

/** First line of an error, for a table. */
export function short(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0].slice(0, 200);
}

/** Index of the worker whose job logged for `room`, if any. */
export function servedBy(workers: readonly WorkerProcess[], room: string): number | undefined {
  const i = workers.findIndex((w) => served(w, room));
  return i < 0 ? undefined : i;
}

/** Runs one call to its end (or its failure) and records it. */
export async function runCall(
  room: RealRoom,
  workers: () => readonly WorkerProcess[],
  options: CallOptions = {},
): Promise<CallRecord> {
  const name = room.freshRoom(options.prefix ?? "scale");
  const record: CallRecord = {
    room: name,
    joinedAt: epochMs(),
    helloAnswered: false,
    helloHeardInFull: false,
    goodbyeHeard: false,
  };
  let caller: Caller | undefined;
  try {
    caller = await room.phones.join(options.via ?? room.server, name, { timeoutMs: 30_000 });
    record.joinedAt = caller.events().find((e) => e.ev === "joined")?.at ?? record.joinedAt;
    const agent = await Promise.race([
      caller.waitForAgent(options.agentWaitMs ?? 30_000),
      caller.disconnected(options.agentWaitMs ?? 30_000),
    ]);
    if ("reason" in agent) throw new Error(`disconnected before an agent came: ${agent.reason}`);
    record.agentMs = Math.round(agent.joinedAt - record.joinedAt);
    // Caller-side checks only: the calls of a scenario overlap, and the simulation's log (what
    // `sayHeard` and `goodbyeHeard` read) is shared by all of them.
    const hello = await caller.say(HELLO);
    await caller.heardAfter(hello.endAt, 20_000, "the reply to hello");
    record.helloAnswered = true;
    record.helloHeardInFull = await heardInFull(caller, HELLO_REPLY_FIRST_SENTENCE, hello.endAt)
      .then(() => true, () => false);
    record.worker = servedBy(workers(), name);
    await options.middle?.(caller);
    const bye = await caller.say(BYE);
    await heardInFull(caller, GOODBYE, bye.endAt);
    record.goodbyeHeard = true;
    record.reason = (await caller.disconnected(30_000)).reason;
  } catch (error) {
    record.error = short(error);
  } finally {
    if (caller) finish(record, caller);
    if (caller && !caller.events().some((e) => e.ev === "disconnected")) {
      await caller.hangup().catch(() => {});
    }
  }
  record.worker ??= servedBy(workers(), name);
  return record;
}

/** Fills in what the caller saw at the end: its disconnect reason and the keeper's notice. */
function finish(record: CallRecord, caller: Caller): void {
  const events: CallerEvent[] = caller.events();
  const gone = events.find((e) => e.ev === "disconnected");
  if (gone && gone.ev === "disconnected") record.reason ??= gone.reason;
  record.endMs = Math.round((gone?.ev === "disconnected" ? gone.at : epochMs()) - record.joinedAt);
  const notice = events.find((e) => e.ev === "data");
  if (notice && notice.ev === "data") record.notice = notice.text;
}
