/**
 * What the agent tells a console about its own ending and failures, over the
 * console protocol itself.
 *
 * The protocol's `error` event carries only a model's label
 * ("inference.TTS"), and the chat history shows a goodbye as said even when
 * its synthesis failed. So the agent reports the facts a screen needs as
 * `debug_message` events (agents-js's channel for a debugger or recorder,
 * forwarded to the broker by its session host): a failed turn and its cause,
 * how the goodbye went, and why the session ended. Only console runs report
 * (`entry` enables it); a room's session host never sees them.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { type JsonObject, Struct } from "@bufbuild/protobuf";
import { voice } from "@livekit/agents";

/** The payload key that marks a debug message as one of these reports. */
export const REPORT_KEY = "exit_message";

/** A turn failed: a model failed past its retries, or the LLM stalled. */
export interface FailedTurnReport {
  kind: "failed_turn";
  /** `llm`, `stt` or `tts`. */
  model: string;
  /** One line: the model, the plugin's words, the gateway and what a probe of it says. */
  cause: string;
  /** Failed turns in a row, this one included. */
  failedTurns: number;
  /** `MAX_FAILED_TURNS`: reaching it ends the call. */
  maxFailedTurns: number;
  /** `said` (queued to be said), `not_heard` (the TTS is what failed) or `none` (the call ends). */
  apology: "said" | "not_heard" | "none";
}

/** How the goodbye went (`core/ending.ts` `GoodbyeOutcome`), with the TTS's words when it failed. */
export interface GoodbyeReport {
  kind: "goodbye";
  outcome: string;
  cause?: string;
}

/** The session ended; `end_reason` as in the `session ended` log line. */
export interface SessionEndedReport {
  kind: "session_ended";
  endReason: string;
  goodbye: string;
}

/** Every report an agent sends. */
export type AgentReport = FailedTurnReport | GoodbyeReport | SessionEndedReport;

/** Where reports go; a no-op unless the agent runs under a console. */
export type ReportSink = (report: AgentReport) => void;

/** Sends each report as a `debug_message` event of `session` (see the module doc). */
export function consoleReporter(session: voice.AgentSession): ReportSink {
  return (report) => {
    const payload = { [REPORT_KEY]: { ...report } } as unknown as JsonObject;
    session.emit(
      voice.AgentSessionEventTypes.DebugMessage,
      new pb.DebugMessage({ payload: Struct.fromJson(payload) }),
    );
  };
}

/** The report carried by a debug message, if it is one of ours. */
export function parseReport(message: pb.DebugMessage | undefined): AgentReport | undefined {
  const json = message?.payload?.toJson() as Record<string, unknown> | undefined;
  const report = json?.[REPORT_KEY] as Record<string, unknown> | undefined;
  if (!report || typeof report.kind !== "string") return undefined;
  switch (report.kind) {
    case "failed_turn":
      return {
        kind: "failed_turn",
        model: String(report.model ?? ""),
        cause: String(report.cause ?? ""),
        failedTurns: Number(report.failedTurns) || 0,
        maxFailedTurns: Number(report.maxFailedTurns) || 0,
        apology: report.apology === "said" || report.apology === "not_heard"
          ? report.apology
          : "none",
      };
    case "goodbye":
      return {
        kind: "goodbye",
        outcome: String(report.outcome ?? ""),
        ...(typeof report.cause === "string" ? { cause: report.cause } : {}),
      };
    case "session_ended":
      return {
        kind: "session_ended",
        endReason: String(report.endReason ?? ""),
        goodbye: String(report.goodbye ?? ""),
      };
    default:
      return undefined;
  }
}
