/**
 * The job around a session: end the job once the session closed (so the agent
 * leaves the room), hang up the other participants when the agent ended the
 * call, notice a user who hung up first, and make a console process exit.
 *
 * @module
 */
import { InferenceRunner, type JobContext, voice } from "@livekit/agents";
import {
  DisconnectReason,
  ParticipantKind,
  type RemoteParticipant,
  RoomEvent,
} from "@livekit/rtc-node";
import { killDescendants } from "./process_tree.ts";
import {
  CONSOLE_EXIT_GRACE_MS,
  DELETE_ROOM_TIMEOUT_MS,
  LOG_FLUSH_GRACE_MS,
  SESSION_CLOSE_TIMEOUT_MS,
  SIGINT_EXIT,
  SIGTERM_EXIT,
} from "./bounds.ts";
import type { EndCallAction } from "./config.ts";
import { type CallEnding, type CloseError, TIMED_OUT, withTimeout } from "./ending.ts";
import { log } from "./log.ts";

// The disconnect reasons agents-js's RoomIO treats as "the user left" (room_io.ts).
const HANGUP_REASONS: ReadonlySet<DisconnectReason | undefined> = new Set([
  DisconnectReason.CLIENT_INITIATED,
  DisconnectReason.ROOM_DELETED,
  DisconnectReason.USER_REJECTED,
]);

/** The part of a room the hang-up watcher needs; an rtc-node `Room` satisfies it. */
export interface RoomLike {
  /** Who is still in the room. */
  readonly remoteParticipants: Map<string, RemoteParticipant>;
  /** Subscribes to a room event. */
  on(event: RoomEvent.ParticipantDisconnected, listener: (p: RemoteParticipant) => void): unknown;
  /** Unsubscribes from a room event. */
  off(event: RoomEvent.ParticipantDisconnected, listener: (p: RemoteParticipant) => void): unknown;
}

/**
 * Watches for the user hanging up. When the last non-agent participant leaves
 * for a hang-up reason, the session closes without a goodbye: nobody would
 * hear it, and TTS would be paid for nothing. Returns the unsubscribe function.
 */
export function watchHangup(
  room: RoomLike,
  session: voice.AgentSession,
  ending: CallEnding,
): () => void {
  const onDisconnected = (participant: RemoteParticipant) => {
    if (!HANGUP_REASONS.has(participant.disconnectReason)) return;
    const someoneListens = [...room.remoteParticipants.values()].some(
      (p) => p.identity !== participant.identity && p.info?.kind !== ParticipantKind.AGENT,
    );
    if (someoneListens) return;
    log().info(
      { reason: DisconnectReason[participant.disconnectReason ?? 0] },
      "user hung up; closing the session without a goodbye",
    );
    ending.markUserGone();
    session.shutdown({ drain: false, reason: voice.CloseReason.PARTICIPANT_DISCONNECTED });
  };
  room.on(RoomEvent.ParticipantDisconnected, onDisconnected);
  return () => room.off(RoomEvent.ParticipantDisconnected, onDisconnected);
}

/** The part of a `JobContext` that ending a job needs. */
export type JobLike = Pick<
  JobContext,
  "shutdown" | "addShutdownCallback" | "deleteRoom" | "isFakeJob"
>;

/** Bounds of {@link endJobAfterClose}; tests shorten them, production uses `bounds.ts`. */
export interface EndingBounds {
  /** See `SESSION_CLOSE_TIMEOUT_MS`. */
  sessionCloseMs?: number;
  /**
   * What a console process does when the session could not close in time:
   * exit with this status. Tests replace it; production calls `Deno.exit`.
   */
  exit?: (code: number) => void;
}

/**
 * Logs the one `session ended: <end_reason>` line of a session, once: a
 * forced ending (close bound passed, second signal) and a late `Close` must
 * not both claim it. Returns false when it was already logged.
 */
export function logSessionEnded(
  ending: CallEnding,
  endReason: string,
  fields: Record<string, unknown> = {},
): boolean {
  if (ending.endLogged) return false;
  ending.endLogged = true;
  log().info(
    {
      end_reason: endReason,
      goodbye: ending.goodbyeOutcome,
      ...(ending.signals.length > 0 ? { signals: ending.signals } : {}),
      ...fields,
    },
    `session ended: ${endReason}`,
  );
  return true;
}

/**
 * Once the session has closed: logs one line with the end reason, asks the
 * room to be deleted when the agent ended the call (unless `action` is
 * `leave`), and shuts the job down so the agent leaves the room. Returns a
 * promise that settles with the end reason when the session closed.
 *
 * It also bounds the ending from the moment it starts (`ending.started`): if
 * the session has not closed after `sessionCloseMs` the job is ended without it (console: the process exits 1), with a warning and the
 * `session ended` line marked `forced`.
 */
export function endJobAfterClose(
  ctx: JobLike,
  session: voice.AgentSession,
  ending: CallEnding,
  action: EndCallAction,
  bounds: EndingBounds = {},
): Promise<string> {
  const sessionCloseMs = bounds.sessionCloseMs ?? SESSION_CLOSE_TIMEOUT_MS;
  const exit = bounds.exit ?? exitConsole;
  let closed = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const { promise, resolve } = Promise.withResolvers<string>();

  void ending.started.then(() => {
    if (closed) return;
    timers.push(setTimeout(() => {
      if (closed) return;
      const endReason = ending.endReason("close_timeout");
      log().warn(
        { stalled: "close", timeout_ms: sessionCloseMs, end_reason: endReason },
        `the session did not close within ${sessionCloseMs} ms of the ending; ending the job without it`,
      );
      logSessionEnded(ending, endReason, { forced: "close_timeout" });
      resolve(endReason);
      if (ctx.isFakeJob) {
        // agents-js's console teardown would wait up to 60 s more for the same
        // close; nothing is left to say, so leave now (and say so by status 1).
        exit(1);
      } else {
        ctx.shutdown(endReason);
      }
    }, sessionCloseMs));
  });

  session.once(voice.AgentSessionEventTypes.Close, (ev) => {
    closed = true;
    for (const t of timers) clearTimeout(t);
    const closeError = ev.error as CloseError | null;
    const endReason = ending.endReason(String(ev.reason), closeError);
    const error = closeError ? String(closeError.error ?? closeError) : undefined;
    const logged = logSessionEnded(ending, endReason, {
      close_reason: ev.reason,
      ...(error ? { error } : {}),
    });
    if (!logged) return; // a forced ending already ended the job
    const agentHungUp = ending.requestedBy === "end_session" && !ending.userGone;
    if (agentHungUp && action === "delete_room" && !ctx.isFakeJob) {
      ctx.addShutdownCallback(() => deleteRoomBounded(ctx));
    }
    if (ctx.isFakeJob) ctx.addShutdownCallback(armConsoleExit);
    ctx.shutdown(endReason);
    resolve(endReason);
  });
  return promise;
}

/**
 * Console mode only (the job runs in the CLI's own process): notes SIGINT and
 * SIGTERM on `ending`, so the final line says the session ended because of a
 * signal (`sigint` / `sigterm`), or carries `signals` when the ending was
 * already under way. agents-js's console handles the first signal itself
 * (it closes the session, so the goodbye is said within its bound). A second
 * signal while ending means "now": one line, anything this process forked is
 * killed by PID, and the process exits 130 (SIGINT) or 143 (SIGTERM).
 * agents-js listens only once per signal, so without this a second signal
 * would be ignored. Returns the unsubscribe function.
 */
export function watchSignals(
  ending: CallEnding,
  exit: (code: number) => void = exitConsole,
): () => void {
  const listeners: [Deno.Signal, () => void][] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      if (ending.signals.length === 0) {
        ending.noteSignal(signal);
        log().info({ signal }, `${signal} received; ending the session (the agent says goodbye)`);
        return;
      }
      ending.noteSignal(signal);
      const endReason = ending.endReason("forced_exit");
      // The session line first: it is the one an operator greps for.
      logSessionEnded(ending, endReason, { forced: `second ${signal}` });
      log().warn(
        { signal, end_reason: endReason },
        `second signal (${signal}) while ending; exiting now without waiting for the goodbye`,
      );
      exit(signal === "SIGINT" ? SIGINT_EXIT : SIGTERM_EXIT);
    };
    Deno.addSignalListener(signal, onSignal);
    listeners.push([signal, onSignal]);
  }
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}

/**
 * Ends a console process now: whatever it forked is killed by PID first, so
 * nothing outlives it, and the log is flushed (bounded) so the line that
 * explains the exit is not lost with the process.
 */
function exitConsole(code: number): void {
  killDescendants(Deno.pid);
  // The console logger (pino -> pino-pretty -> async sonic-boom on fd 1)
  // offers no flush that reports completion, and writes one line per event
  // loop turn: the explaining lines get a short fixed grace to reach the
  // terminal (a bound, not a wait for a condition nobody can observe).
  setTimeout(() => Deno.exit(code), LOG_FLUSH_GRACE_MS);
}

async function deleteRoomBounded(ctx: JobLike): Promise<void> {
  log().info("deleting the room to hang up every participant (END_CALL_ACTION=delete_room)");
  const result = await withTimeout(ctx.deleteRoom(), DELETE_ROOM_TIMEOUT_MS);
  if (result === TIMED_OUT) {
    log().warn(
      { timeout_ms: DELETE_ROOM_TIMEOUT_MS },
      "the LiveKit API did not delete the room in time; leaving it instead",
    );
  }
}

/**
 * Console mode runs the job in the CLI's own process, which agents-js's
 * leftover timers would keep alive for up to 15 s after the session closed
 * (see `CONSOLE_EXIT_GRACE_MS`). This runs as the last shutdown callback, after
 * the models and signal listeners were released; what agents-js still does
 * after it is flush the logs and, only when a plugin registered a local
 * inference runner, close the inference process. So the process exits 0 once
 * that is given its bound. The timer is unref'd: if the loop empties first,
 * the process ends by itself.
 */
function armConsoleExit(): Promise<void> {
  const inferenceProcess = Object.keys(InferenceRunner.registeredRunners).length > 0;
  const graceMs = inferenceProcess ? CONSOLE_EXIT_GRACE_MS : LOG_FLUSH_GRACE_MS;
  const timer = setTimeout(() => Deno.exit(0), graceMs);
  Deno.unrefTimer(timer);
  log().debug({ grace_ms: graceMs }, "console teardown done; exiting");
  return Promise.resolve();
}
