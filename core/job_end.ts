/**
 * The end of the job around a session: once the session closed, one
 * `session ended` line, the room deleted when the agent ended the call, and
 * the job shut down so the agent leaves the room. When the session does not
 * close within its bound, the forced ending ends the call without it.
 *
 * @module
 */
import { type JobContext, voice } from "@livekit/agents";
import {
  DELETE_ROOM_TIMEOUT_MS,
  FORCED_JOB_EXIT_MS,
  HANGUP_AFTER_GOODBYE_MS,
  LOG_FLUSH_GRACE_MS,
  ROOM_DISCONNECT_TIMEOUT_MS,
  SESSION_CLOSE_TIMEOUT_MS,
} from "./bounds.ts";
import type { EndCallAction } from "./config.ts";
import { armConsoleExit, exitConsole } from "./console_exit.ts";
import type { CallEnding, CloseError } from "./ending.ts";
import { MODEL_FAILURE_EXIT_CODE } from "./errors.ts";
import { reportCall } from "./call_metrics.ts";
import { releaseJob } from "./job_release.ts";
import { log } from "./log.ts";
import { TIMED_OUT, withTimeout } from "./timeout.ts";

/** End reasons of a call the models failed (`MAX_FAILED_TURNS` reached); a console exits 3 on them. */
export const FAILURE_END_REASONS: ReadonlySet<string> = new Set([
  "llm_error",
  "tts_error",
  "stt_error",
  "error",
]);

/** The part of a `JobContext` that ending a job needs. */
export type JobLike =
  & Pick<
    JobContext,
    "shutdown" | "addShutdownCallback" | "deleteRoom" | "isFakeJob"
  >
  & {
    /** The job's room; the forced ending leaves it without waiting for agents-js. */
    readonly room: { disconnect(): Promise<void> };
    /** The job (its id names it to a call host that releases it). */
    readonly job?: { readonly id: string };
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
  /** See `HANGUP_AFTER_GOODBYE_MS`. */
  hangupAfterGoodbyeMs?: number;
  /** What a worker's job process does once that grace passed, given the job's id (tests replace it). */
  exitJobProcess?: (jobId?: string) => void;
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
  reportCall({
    kind: "call_ended",
    endReason,
    goodbye: ending.goodbyeOutcome,
    ...(typeof fields.forced === "string" ? { forced: fields.forced } : {}),
    ...(ending.failure ? { failedModel: ending.failure.model } : {}),
  });
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
  // One room deletion per call, whoever asks first: the goodbye's end, the close, the forced ending.
  let deletion: Promise<boolean> | undefined;
  const deleteRoom = () => {
    ending.hangingUp = true;
    return deletion ??= deleteRoomBounded(ctx);
  };

  // The caller is hung up as soon as the goodbye has played, not after the session's close:
  // agents-js's close first waits a fixed 500 ms for a last user turn (commitUserTurn), which a
  // call that is ending has no use for, and would leave the caller half a second in silence.
  if (!ctx.isFakeJob && action === "delete_room") {
    void ending.goodbyeOver.then((outcome) => {
      if (outcome === "skipped" || !agentHungUp(ending)) return;
      timers.push(setTimeout(() => {
        void deleteRoom().then((hungUp) => {
          if (hungUp) reportHangup(ending);
        });
      }, bounds.hangupAfterGoodbyeMs ?? HANGUP_AFTER_GOODBYE_MS));
    });
  }
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
        void forceCallEnd(ctx, hangUp ? deleteRoom : undefined).then((hungUp) => {
          if (hungUp && deletion === undefined) reportHangup(ending);
          // The call is over; agents-js may still hold this process for a minute on the stuck
          // close. Past a grace, the process ends itself and frees its slot in the worker.
          const timer = setTimeout(
            () => (bounds.exitJobProcess ?? exitJobProcess)(ctx.job?.id),
            bounds.forcedJobExitMs ?? FORCED_JOB_EXIT_MS,
          );
          Deno.unrefTimer(timer);
        });
      }
    }, sessionCloseMs));
  });

  session.once(voice.AgentSessionEventTypes.Close, (ev) => {
    closed = true;
    // A hang-up still waiting for its margin is left to the shutdown callback below.
    for (const t of timers) clearTimeout(t);
    const closeError = ev.error as CloseError | null;
    const endReason = ending.endReason(String(ev.reason), closeError);
    const error = closeError ? String(closeError.error ?? closeError) : undefined;
    const logged = logSessionEnded(ending, endReason, {
      close_reason: ev.reason,
      ...(error ? { error } : {}),
    });
    if (!logged) return; // a forced ending already ended the call
    if (agentHungUp(ending) && !ctx.isFakeJob) {
      // delete_room: the caller is hung up once the room is deleted; leave: once the agent left
      // the room (agents-js disconnects before it runs the shutdown callbacks).
      ctx.addShutdownCallback(async () => {
        const early = deletion !== undefined;
        const hungUp = action === "delete_room" ? await deleteRoom() : true;
        if (hungUp && !early) reportHangup(ending);
      });
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
function exitJobProcess(jobId?: string): void {
  // In a call host the other calls go on: the host releases this one (core/job_release.ts).
  if (jobId !== undefined && releaseJob(jobId)) return;
  if (typeof (globalThis as { process?: { send?: unknown } }).process?.send !== "function") return;
  log().warn(
    { timeout_ms: FORCED_JOB_EXIT_MS },
    "the job process is still held by the stuck close after the forced ending; exiting it",
  );
  setTimeout(() => Deno.exit(0), LOG_FLUSH_GRACE_MS);
}

/** The caller was hung up after the agent's goodbye: how long after its end. */
function reportHangup(ending: CallEnding): void {
  if (ending.goodbyeEndedAt === undefined) return;
  reportCall({ kind: "goodbye_to_hangup", seconds: (Date.now() - ending.goodbyeEndedAt) / 1000 });
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
async function forceCallEnd(
  ctx: JobLike,
  deleteRoom: (() => Promise<boolean>) | undefined,
): Promise<boolean> {
  const leave = async (): Promise<boolean> => {
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
      return false;
    }
    if (left) log().info("the forced ending left the room");
    return left;
  };
  const [left, deleted] = await Promise.all([leave(), deleteRoom ? deleteRoom() : false]);
  return deleteRoom ? deleted : left;
}

/**
 * Asks the LiveKit API to delete the room (which hangs up every participant),
 * bounded; a failure or a timeout leaves the room with a warning.
 */
async function deleteRoomBounded(ctx: JobLike): Promise<boolean> {
  log().info("deleting the room to hang up every participant (END_CALL_ACTION=delete_room)");
  const result = await withTimeout(
    ctx.deleteRoom().then(() => true, (error) => {
      log().warn(
        { error: String(error) },
        `the LiveKit API did not delete the room (${error}); the agent leaves, the caller stays ` +
          "until they hang up: check that the server's API is reachable from the worker and that " +
          "LIVEKIT_API_KEY may administer rooms",
      );
      return false;
    }),
    DELETE_ROOM_TIMEOUT_MS,
  );
  if (result === TIMED_OUT) {
    log().warn(
      { timeout_ms: DELETE_ROOM_TIMEOUT_MS },
      `the LiveKit API did not delete the room within ${DELETE_ROOM_TIMEOUT_MS} ms; the agent ` +
        "leaves, the caller stays until they hang up: check the latency from the worker to the " +
        "LiveKit server's API",
    );
    return false;
  }
  return result;
}
