/**
 * The job process's half of the worker's metrics: what happened in the call, sent to the worker's
 * main process, which counts it and serves the sum on `GET /metrics` (`worker/metrics.ts`).
 *
 * Why events and not counters per process: a job process ends with its call, and a counter that
 * disappears with its process would make the worker's sum go down. So the job only says what
 * happened ("a call ended: end_session, goodbye played"), once, and the main process owns every
 * counter and histogram. The channel is a unix socket in a private directory the main process
 * names in {@link METRICS_DIR_ENV}; agents-js forks job processes with the main process's
 * environment, so they find it. agents-js's own IPC channel is not used: its handle is private
 * to agents-js, and the first message a job process sends on it must be agents-js's own.
 *
 * Without the variable (metrics off, the console, tests) every function here is a no-op.
 * @module
 */
import { voice } from "@livekit/agents";
import type { CallEnding, GoodbyeOutcome } from "./ending.ts";
import { type DecidedBy, watchTurnParts } from "./turn_parts.ts";

/** Names the directory of the main process's metrics socket (set by `worker/metrics.ts`). */
export const METRICS_DIR_ENV = "EXIT_MESSAGE_METRICS_DIR";
/** The socket's file name in that directory. */
export const METRICS_SOCKET_NAME = "report.sock";

/** A failed turn's kind: the model that failed, or `stall` for an LLM reply the watchdog cut. */
export type FailedTurnKind = "llm" | "stt" | "tts" | "stall";

/** One thing that happened in a job process, as it travels to the main process. */
export type CallEvent =
  /** This job process finished its prewarm (`lk_agents_proc_initialize_duration_seconds`). */
  | { kind: "proc_initialized"; seconds: number }
  /** A call's entrypoint started. */
  | { kind: "call_started" }
  /** A spoken turn got a reply. */
  | { kind: "turn"; decidedBy: DecidedBy; replySeconds?: number }
  /** A turn failed (see `core/turn_failures.ts`). */
  | { kind: "failed_turn"; failure: FailedTurnKind; apology: "said" | "not_heard" | "none" }
  /** The goodbye was heard in full, this long after the user stopped saying bye. */
  | { kind: "bye_to_goodbye_heard"; seconds: number }
  /** The caller was hung up (room deleted, or the agent left), this long after the goodbye ended. */
  | { kind: "goodbye_to_hangup"; seconds: number }
  /** The call ended (the `session ended` line). */
  | {
    kind: "call_ended";
    endReason: string;
    goodbye: GoodbyeOutcome;
    /** `close_timeout` when the forced ending ended it. */
    forced?: string;
    /** The model whose failures ended the call, if they did. */
    failedModel?: string;
  };

/** What the main process receives first on a connection: who is talking. */
export interface Hello {
  kind: "hello";
  pid: number;
}

interface Reporter {
  send(event: CallEvent | Hello): void;
}

let reporter: Reporter | undefined;

/**
 * Opens this job process's channel to the main process (once) and records, when the process
 * exits, its exit status for the main process to read (a status it cannot get otherwise: the
 * child's handle is agents-js's). No-op outside a worker with metrics on.
 */
export function connectJobReporter(env: Pick<Deno.Env, "get"> = Deno.env): void {
  if (reporter) return;
  const dir = env.get(METRICS_DIR_ENV);
  if (!dir) return;
  reporter = socketReporter(`${dir}/${METRICS_SOCKET_NAME}`);
  reporter.send({ kind: "hello", pid: Deno.pid });
  // Written synchronously while the process exits: the main process reads it once this
  // process's socket closed. A process killed by a signal writes nothing, and is counted so.
  const record = (code: number) => {
    try {
      Deno.writeTextFileSync(`${dir}/${Deno.pid}.exit`, String(code));
    } catch {
      // the directory is gone: the worker is shutting down
    }
  };
  globalThis.addEventListener("unload", () => record(Deno.exitCode));
  // An uncaught exception ends the process with status 1 without an unload event.
  globalThis.addEventListener("error", () => record(1));
}

/** Sends `event` to the main process; a no-op when this process has no channel. */
export function reportCall(event: CallEvent): void {
  reporter?.send(event);
}

/**
 * Reports a call's start, each spoken turn's reply latency and what decided it, and, when the
 * user said bye, the time from the end of that bye to the end of the goodbye. Returns the function
 * that stops watching (the session's `Close` also stops it).
 */
export function watchCallMetrics(session: voice.AgentSession, ending: CallEnding): () => void {
  if (!reporter) return () => {};
  reportCall({ kind: "call_started" });
  const E = voice.AgentSessionEventTypes;
  const unwatchTurns = watchTurnParts(session, (p) =>
    reportCall({
      kind: "turn",
      decidedBy: p.decidedBy,
      ...(p.replyStartMs !== undefined ? { replySeconds: p.replyStartMs / 1000 } : {}),
    }));
  // The bye: the user's last turn before end_session was asked for, and its end of speech as
  // agents-js measured it. agents-js leaves it out when it judged the VAD unreliable for the
  // turn (seen on a starved machine); then the time from the bye is unknown and not observed.
  let lastUserTurn: { speechEnd?: number } | undefined;
  let bye: { speechEnd?: number } | undefined;
  const onItem = (ev: voice.ConversationItemAddedEvent) => {
    const item = ev.item;
    if (item.type !== "message" || item.role !== "user" || ending.isStarted) return;
    const stopped = item.metrics?.stoppedSpeakingAt;
    lastUserTurn = { speechEnd: stopped === undefined ? undefined : stopped * 1000 };
  };
  void ending.started.then(() => (bye = lastUserTurn));
  const onClose = () => {
    stop();
    const byeEnd = bye?.speechEnd;
    if (
      ending.requestedBy === "end_session" && byeEnd !== undefined &&
      ending.goodbyeOutcome === "played" && ending.goodbyeEndedAt
    ) {
      reportCall({
        kind: "bye_to_goodbye_heard",
        seconds: (ending.goodbyeEndedAt - byeEnd) / 1000,
      });
    }
  };
  const stop = () => {
    unwatchTurns();
    session.off(E.ConversationItemAdded, onItem);
    session.off(E.Close, onClose);
  };
  session.on(E.ConversationItemAdded, onItem);
  session.on(E.Close, onClose);
  return stop;
}

/**
 * The goodbye outcome as `/metrics` labels it: what the caller heard. `played` and `partial` as
 * logged; `failed`, `timed_out` and (forced ending) `queued` are `not_heard`; `in_progress` (a
 * forced ending while it played) is `partial`; `skipped` (the user hung up) and `none` as logged.
 */
export function heardLabel(outcome: GoodbyeOutcome): string {
  switch (outcome) {
    case "failed":
    case "timed_out":
    case "queued":
      return "not_heard";
    case "in_progress":
      return "partial";
    default:
      return outcome;
  }
}

/**
 * Lines of JSON over one unix socket connection, written in order. Sends queue while it
 * connects; a channel that fails is dropped (metrics must never disturb the call), with no retry:
 * the main process is gone or shutting down.
 */
function socketReporter(path: string): Reporter {
  const encoder = new TextEncoder();
  let queue: Uint8Array[] = [];
  let conn: Deno.Conn | undefined;
  let broken = false;
  let writing = false;
  const flush = async () => {
    if (!conn || writing || broken) return;
    writing = true;
    try {
      while (queue.length > 0) {
        const chunk = queue.shift()!;
        for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
      }
    } catch {
      broken = true;
      queue = [];
    } finally {
      writing = false;
    }
  };
  Deno.connect({ transport: "unix", path }).then((c) => {
    conn = c;
    // The socket must not keep a job process alive: agents-js ends it when the job is done.
    (c as Deno.Conn & { unref?: () => void }).unref?.();
    void flush();
  }, () => {
    broken = true;
    queue = [];
  });
  return {
    send(event) {
      if (broken) return;
      queue.push(encoder.encode(JSON.stringify(event) + "\n"));
      void flush();
    },
  };
}
