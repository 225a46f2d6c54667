/**
 * The call keeper's work on one room: bring an agent to a call that has none, or tell the caller
 * and hang up. Driven by livekit-server's webhooks (`keeper/mod.ts` verifies them), acting through
 * its server API (`livekit-server-sdk`'s `RoomServiceClient` and `AgentDispatchClient`).
 *
 * - An agent lost mid-call (`participant_left`, timed out by the server): a replacement is
 *   dispatched at once under the lost agent's own name, its job metadata saying whom it replaces
 *   (`core/resume.ts`), so it says it lost the thread and carries on.
 * - A caller alone in a call past the answer timeout (every worker was full when the room was
 *   created, and the server dispatches only then; or, on a cluster, the caller came back after a
 *   node's loss and its agent had ended): an agent is dispatched once more, as a replacement when
 *   the room had an agent before.
 *
 * Either way, when no agent has joined within the join timeout, the dispatch is withdrawn, the
 * caller is told (a data message on {@link NOTICE_TOPIC}) and the room is deleted, which hangs
 * every caller up (a phone caller too): never a caller left waiting in silence. One room is
 * handled once at a time, so a webhook delivered twice starts nothing twice.
 *
 * @module
 */
import { DataPacket_Kind, type WebhookEvent } from "@livekit/protocol";
import type { AgentDispatchClient, RoomServiceClient } from "livekit-server-sdk";
import { resumeMetadata } from "../core/resume.ts";
import { log } from "../core/log.ts";
import { joinedAgent, lostAgent, newCaller, roomNeed } from "./decide.ts";

/** The data topic of the keeper's notice to a caller it hangs up. */
export const NOTICE_TOPIC = "exit-message.notice";

/** The notice when a lost agent could not be replaced. */
export const LOST_NOTICE =
  "The agent was disconnected and no other agent could take the call. Please call again.";

/** The notice when nobody answered a new call. */
export const UNANSWERED_NOTICE = "No agent is free to take the call. Please call again later.";

/** What the keeper needs of the server API. */
export interface KeeperApi {
  rooms: Pick<RoomServiceClient, "listParticipants" | "deleteRoom" | "sendData">;
  dispatch: Pick<AgentDispatchClient, "createDispatch" | "deleteDispatch" | "listDispatch">;
}

/** Options of {@link CallKeeper}. */
export interface CallKeeperOptions {
  /** How long a dispatched agent gets to join. */
  joinTimeoutMs: number;
  /** How long a caller may be alone in a new call before the keeper dispatches; 0: never. */
  answerTimeoutMs: number;
  /** How often a room is looked at while waiting. */
  pollMs: number;
  /** The agent dispatched to an unanswered call (empty: automatic-dispatch workers). */
  agentName: string;
}

/** What became of a room the keeper looked after. */
export type KeeperOutcome =
  | {
    outcome: "answered";
    room: string;
    /** The agent that joined. */
    agent: string;
    /** Dispatch to that agent in the room. */
    joinMs: number;
  }
  | { outcome: "hung_up"; room: string; why: string }
  | { outcome: "not_needed"; room: string; why: string }
  | { outcome: "failed"; room: string; error: string };

interface Need {
  room: string;
  agentName: string;
  metadata?: string;
  lostIdentity?: string;
  notice: string;
  /** For the log lines: what the keeper is doing. */
  what: string;
}

/** Is this the server API's "no such room"? */
function roomGone(error: unknown): boolean {
  const status = (error as { status?: number })?.status;
  return status === 404 || /does not exist|not found/i.test(String(error));
}

/** Looks after the calls of one LiveKit deployment (see the module header). */
export class CallKeeper {
  readonly #api: KeeperApi;
  readonly #options: CallKeeperOptions;
  readonly #inFlight = new Map<string, Promise<KeeperOutcome>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  /** A keeper acting through `api`. */
  constructor(api: KeeperApi, options: CallKeeperOptions) {
    this.#api = api;
    this.#options = options;
  }

  /**
   * Acts on one (verified) webhook event. Returns the room's handling when the event starts or
   * joins one (a lost agent); `undefined` when it starts nothing now (other events, or a new
   * caller, which is looked at after the answer timeout).
   */
  handle(event: WebhookEvent): Promise<KeeperOutcome> | undefined {
    if (this.#closed) return undefined;
    const lost = lostAgent(event);
    if (lost) {
      log().warn(
        { room: lost.room, lost_agent: lost.identity, reason: lost.reason },
        `agent ${lost.identity} was lost mid-call (${lost.reason}); dispatching a replacement`,
      );
      return this.#once(lost.room, {
        room: lost.room,
        agentName: lost.agentName,
        metadata: resumeMetadata({
          lostIdentity: lost.identity,
          lostAt: Date.now(),
          reason: lost.reason,
        }),
        lostIdentity: lost.identity,
        notice: LOST_NOTICE,
        what: "replacement",
      });
    }
    const caller = newCaller(event);
    if (caller && this.#options.answerTimeoutMs > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#closed) return;
        void this.#once(caller.room, {
          room: caller.room,
          agentName: this.#options.agentName,
          notice: UNANSWERED_NOTICE,
          what: "answer",
        });
      }, this.#options.answerTimeoutMs);
      this.#timers.add(timer);
    }
    return undefined;
  }

  /** Rooms being handled now. */
  get busyRooms(): string[] {
    return [...this.#inFlight.keys()];
  }

  /** Stops taking events and waits (at most `ms`) for the rooms being handled. */
  async close(ms: number): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(this.#inFlight.values()),
      new Promise((r) => timer = setTimeout(r, ms)),
    ]);
    clearTimeout(timer);
  }

  #once(room: string, need: Need): Promise<KeeperOutcome> {
    const running = this.#inFlight.get(room);
    if (running) return running;
    const run = this.#bringAgent(need).catch((error): KeeperOutcome => {
      const message = error instanceof Error ? error.message : String(error);
      log().error(
        { room, error: message },
        `could not look after the call in room ${room}: ${message}`,
      );
      return { outcome: "failed", room, error: message };
    }).finally(() => this.#inFlight.delete(room));
    this.#inFlight.set(room, run);
    return run;
  }

  /** Who is in `room`, or `undefined` when the room is gone. */
  async #participants(room: string) {
    try {
      return await this.#api.rooms.listParticipants(room);
    } catch (error) {
      if (roomGone(error)) return undefined;
      throw error;
    }
  }

  async #bringAgent(need: Need): Promise<KeeperOutcome> {
    const { room } = need;
    const before = await this.#participants(room);
    const now = before ? roomNeed(before, need.lostIdentity) : undefined;
    if (!now || now.need === "nothing") {
      const why = now?.need === "nothing" ? now.why : "the room is gone";
      log().info({ room }, `no ${need.what} needed in room ${room}: ${why}`);
      return { outcome: "not_needed", room, why };
    }
    const metadata = need.metadata ?? await this.#earlierAgent(room);
    const t0 = performance.now();
    const dispatch = await this.#api.dispatch.createDispatch(room, need.agentName, { metadata });
    log().info(
      { room, dispatch_id: dispatch.id, agent_name: need.agentName },
      `dispatched an agent to room ${room} (${need.what})`,
    );
    while (!this.#closed && performance.now() - t0 < this.#options.joinTimeoutMs) {
      await new Promise((r) => setTimeout(r, this.#options.pollMs));
      const participants = await this.#participants(room);
      if (!participants) return this.#notNeeded(room, "the room ended meanwhile");
      const agent = joinedAgent(participants, need.lostIdentity);
      if (agent) {
        const joinMs = Math.round(performance.now() - t0);
        log().info(
          { room, agent: agent.identity, join_ms: joinMs },
          `agent ${agent.identity} joined room ${room} ${joinMs} ms after the dispatch (${need.what})`,
        );
        return { outcome: "answered", room, agent: agent.identity, joinMs };
      }
      const state = roomNeed(participants, need.lostIdentity);
      if (state.need === "nothing") return this.#notNeeded(room, state.why);
    }
    if (this.#closed) return this.#notNeeded(room, "the keeper is stopping");
    const why = `no agent joined within ${this.#options.joinTimeoutMs} ms of the dispatch`;
    await this.#hangUp(room, dispatch.id, need.notice);
    log().warn(
      { room, reason: why },
      `${why}: told the caller and deleted room ${room}, which hangs the caller up`,
    );
    return { outcome: "hung_up", room, why };
  }

  /**
   * For a call found without an agent: when an agent served it before (the room's dispatches hold
   * a job that joined, e.g. a caller back after a cluster node's loss whose agent ended), the one
   * sent now takes it over as a replacement and says so; for a call never answered, nothing.
   */
  async #earlierAgent(room: string): Promise<string | undefined> {
    const dispatches = await this.#api.dispatch.listDispatch(room).catch(() => []);
    const jobs = dispatches.flatMap((d) => d.state?.jobs ?? []);
    const served = jobs.map((j) => j.state?.participantIdentity ?? "").filter(Boolean);
    if (served.length === 0) return undefined;
    log().info(
      { room, earlier_agent: served.at(-1) },
      `room ${room} had an agent before; the one sent now takes the call over`,
    );
    return resumeMetadata({
      lostIdentity: served.at(-1)!,
      lostAt: Date.now(),
      reason: "NO_AGENT",
    });
  }

  #notNeeded(room: string, why: string): KeeperOutcome {
    log().info({ room }, `stopped waiting for an agent in room ${room}: ${why}`);
    return { outcome: "not_needed", room, why };
  }

  /** Withdraws the dispatch (a late agent must not join an empty room), tells, deletes the room. */
  async #hangUp(room: string, dispatchId: string, notice: string): Promise<void> {
    const quiet = (what: string) => (error: unknown) => {
      if (roomGone(error)) return;
      log().warn({ room, error: String(error) }, `could not ${what} in room ${room}: ${error}`);
    };
    await this.#api.dispatch.deleteDispatch(dispatchId, room).catch(quiet("withdraw the dispatch"));
    await this.#api.rooms.sendData(
      room,
      new TextEncoder().encode(notice),
      DataPacket_Kind.RELIABLE,
      { topic: NOTICE_TOPIC },
    ).catch(quiet("tell the caller"));
    await this.#api.rooms.deleteRoom(room).catch(quiet("delete the room"));
  }
}
