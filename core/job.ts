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
  FORCED_JOB_EXIT_MS,
  LOG_FLUSH_GRACE_MS,
  ROOM_DISCONNECT_TIMEOUT_MS,
  SESSION_CLOSE_TIMEOUT_MS,
  SIGINT_EXIT,
  SIGTERM_EXIT,
} from "./bounds.ts";
import type { EndCallAction } from "./config.ts";
import { type CallEnding, type CloseError, TIMED_OUT, withTimeout } from "./ending.ts";
import { MODEL_FAILURE_EXIT_CODE } from "./errors.ts";
import { log } from "./log.ts";

/** End reasons of a call the models failed (`MAX_FAILED_TURNS` reached); a console exits 3 on them. */
export const FAILURE_END_REASONS: ReadonlySet<string> = new Set([
  "llm_error",
  "tts_error",
  "stt_error",
  "error",
]);

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
export type JobLike =
  & Pick<
    JobContext,
    "shutdown" | "addShutdownCallback" | "deleteRoom" | "isFakeJob"
  >
  & {
    /** The job's room; the forced ending leaves it without waiting for agents-js. */
    readonly room: { disconnect(): Promise<void> };
  };

/** Bounds of {@link endJobAfterClose}; tests shorten them, production uses `bounds.ts`. */
export interface EndingBounds {
  /** See `SESSION_CLOSE_TIMEOUT_MS`. */
  sessionCloseMs?: number;
  /**
   * What a console process does when the session could not close in time:
   * exit with this status. Tests replace it; production calls `Deno.exit`.
   */
  exit?: (code: number) => void;
  /** See `FORCED_JOB_EXIT_MS`. */
  forcedJobExitMs?: number;
  /** What a worker's job process does once that grace passed (tests replace it). */
  exitJobProcess?: () => void;
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
      ...(ending.failure ? { cause: ending.failure.cause } : {}),
      ...fields,
    },
    `session ended: ${endReason}`,
  );
  ending.report({ kind: "session_ended", endReason, goodbye: ending.goodbyeOutcome });
  return true;
}

/**
 * Once the session has closed: logs one line with the end reason, asks the
 * room to be deleted when the agent ended the call (unless `action` is
 * `leave`), and shuts the job down so the agent leaves the room. Returns a
 * promise that settles with the end reason when the session closed.
 *
 * It also bounds the ending from the moment it starts (`ending.started`): if
 * the session has not closed after `sessionCloseMs`, the call is ended without
 * it, with a warning and the `session ended` line marked `forced`. In a
 * worker that means at once, whatever the stuck close does: the room is
 * deleted when the agent ended the call, the agent leaves the room (each
 * bounded), then the job is shut down. agents-js's own shutdown would first
 * await the same stuck `session.close()` for up to 60 s more, and only then
 * disconnect and run the shutdown callbacks (job_lifecycle.ts,
 * job_proc_lazy_main.ts). A console process exits 1.
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
        const hangUp = agentHungUp(ending) && action === "delete_room";
        ctx.shutdown(endReason);
        void forceCallEnd(ctx, hangUp).then(() => {
          // The call is over; agents-js may still hold this process for a minute on the stuck
          // close. Past a grace, the process ends itself and frees its slot in the worker.
          const timer = setTimeout(
            () => (bounds.exitJobProcess ?? exitJobProcess)(),
            bounds.forcedJobExitMs ?? FORCED_JOB_EXIT_MS,
          );
          Deno.unrefTimer(timer);
        });
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
    if (!logged) return; // a forced ending already ended the call
    if (agentHungUp(ending) && action === "delete_room" && !ctx.isFakeJob) {
      ctx.addShutdownCallback(() => deleteRoomBounded(ctx));
    }
    if (ctx.isFakeJob) {
      const code = FAILURE_END_REASONS.has(endReason) ? MODEL_FAILURE_EXIT_CODE : 0;
      ctx.addShutdownCallback(() => armConsoleExit(code));
    }
    ctx.shutdown(endReason);
    resolve(endReason);
  });
  return promise;
}

/**
 * Ends a worker's job process after a forced ending, with a log line. Only a forked job process
 * (agents-js talks to it over IPC) exits: the same code running in a test runner does not.
 */
function exitJobProcess(): void {
  if (typeof (globalThis as { process?: { send?: unknown } }).process?.send !== "function") return;
  log().warn(
    { timeout_ms: FORCED_JOB_EXIT_MS },
    "the job process is still held by the stuck close after the forced ending; exiting it",
  );
  setTimeout(() => Deno.exit(0), LOG_FLUSH_GRACE_MS);
}

/** True when the agent ended the call (end_session) with the user still there. */
function agentHungUp(ending: CallEnding): boolean {
  return ending.requestedBy === "end_session" && !ending.userGone;
}

/**
 * The forced ending in a worker: the call ends now, whatever the stuck close
 * does. Deleting the room hangs up every participant (a phone caller too);
 * leaving it takes the agent out. Both at once, each bounded, each failure
 * logged, neither waiting for agents-js's shutdown.
 */
async function forceCallEnd(ctx: JobLike, deleteRoom: boolean): Promise<void> {
  const leave = async () => {
    const left = await withTimeout(
      ctx.room.disconnect().then(() => true, (error) => {
        log().warn({ error: String(error) }, "the forced ending could not leave the room");
        return false;
      }),
      ROOM_DISCONNECT_TIMEOUT_MS,
    );
    if (left === TIMED_OUT) {
      log().warn(
        { timeout_ms: ROOM_DISCONNECT_TIMEOUT_MS },
        "the forced ending could not leave the room in time; the job process ends it when it exits",
      );
    } else if (left) {
      log().info("the forced ending left the room");
    }
  };
  await Promise.all([leave(), deleteRoom ? deleteRoomBounded(ctx) : undefined]);
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
  const result = await withTimeout(
    ctx.deleteRoom().catch((error) => {
      log().warn({ error: String(error) }, "the LiveKit API did not delete the room; leaving it");
    }),
    DELETE_ROOM_TIMEOUT_MS,
  );
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
 * inference runner, close the inference process. So the process exits once
 * that is given its bound: 0, or `MODEL_FAILURE_EXIT_CODE` (3) when the call
 * ended because the models failed. The timer is unref'd: if the loop empties
 * first, the process ends by itself, with the same status.
 */
function armConsoleExit(code: number): Promise<void> {
  const inferenceProcess = Object.keys(InferenceRunner.registeredRunners).length > 0;
  const graceMs = inferenceProcess ? CONSOLE_EXIT_GRACE_MS : LOG_FLUSH_GRACE_MS;
  Deno.exitCode = code; // also when the loop empties first
  const timer = setTimeout(() => Deno.exit(code), graceMs);
  Deno.unrefTimer(timer);
  log().debug({ grace_ms: graceMs, exit_code: code }, "console teardown done; exiting");
  return Promise.resolve();
}
