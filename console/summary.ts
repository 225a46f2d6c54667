/**
 * The lines a console run ends with: how the session ended, the turns and
 * the time, what was recorded, what the simulation synthesized, and the
 * median latencies.
 *
 * @module
 */
import type { LatencyLog } from "./latency.ts";
import type { SessionRecorder } from "./recorder.ts";
import type { ConsoleUi } from "./ui.ts";

/** What a run knows at its end, for {@link printSummary}. */
export interface SummaryFacts {
  /** Whether the session closed, or the agent exited first. */
  how: "closed" | "exited";
  /** The agent exited with the models-failed status. */
  modelsFailed: boolean;
  /** Seconds since the agent connected. */
  seconds: number;
  /** The failure that ended the call, as the agent reported it. */
  failure?: { model: string; cause: string; failedTurns: number };
  /** Why the session ended, in words, when the console or the agent's tool ended it. */
  endedBy?: string;
  /** The console asked the agent to stop. */
  stopRequested: boolean;
  /** The agent was heard after that (its goodbye). */
  agentSpokeAfterStop: boolean;
  /** Turns of the user. */
  userTurns: number;
  /** Replies of the agent. */
  agentTurns: number;
  /** Seconds of agent speech played. */
  playedSeconds: number;
  /** Seconds of agent speech shown as text at once, nothing playing it (text mode). */
  unplayedSeconds?: number;
  /** `--output-wav`: the path and the seconds written. */
  outputWav?: { path?: string; seconds: number };
  /** The offline simulation's event log, when it ran. */
  gatewayLog?: { kind: string; durationMs?: number }[];
  /** Latency of each reply. */
  latency: LatencyLog;
  /** `--record`: closed here, and its files listed. */
  record?: SessionRecorder;
}

/** Prints the summary of a run that got as far as a session. */
export function printSummary(ui: ConsoleUi, f: SummaryFacts): void {
  const failure = f.failure;
  let ending = failure
    ? `the call ended after ${failure.failedTurns} failed turn${
      failure.failedTurns === 1 ? "" : "s"
    } in a row (${failure.model}_error): ${failure.cause}`
    : f.modelsFailed
    ? "the call ended because the models failed (the agent's log says why)"
    : f.endedBy ?? (f.how === "closed" ? "the agent closed the session" : "the agent exited");
  if (f.stopRequested && !f.endedBy?.startsWith("the agent")) {
    ending += f.agentSpokeAfterStop ? "; the agent said goodbye" : "; no goodbye was heard";
  }
  const parts = [
    `${f.userTurns} user turn${f.userTurns === 1 ? "" : "s"}`,
    `${f.agentTurns} agent repl${f.agentTurns === 1 ? "y" : "ies"}`,
    `${formatDuration(f.seconds)}`,
  ];
  const played = f.playedSeconds;
  if (played > 0) parts.push(`${played.toFixed(2)} s of agent speech`);
  const unplayed = f.unplayedSeconds ?? 0;
  if (unplayed > 0) {
    parts.push(`${unplayed.toFixed(2)} s of agent speech synthesized, not played (text mode)`);
  }
  ui.line("");
  ui.line(ui.tty ? `${ui.bold("session ended:")} ${ending}` : `session ended: ${ending}`);
  ui.line(`summary: ${parts.join(" · ")}`);
  if (f.outputWav) {
    const secs = f.outputWav.seconds.toFixed(2);
    ui.line(`recorded: ${f.outputWav.path} (${secs} s)`);
  }
  if (f.gatewayLog) {
    const ttsMs = f.gatewayLog.reduce(
      (n, e) => n + (e.kind === "tts_audio" ? e.durationMs ?? 0 : 0),
      0,
    );
    ui.line(`simulation: the stand-in TTS synthesized ${(ttsMs / 1000).toFixed(2)} s of audio`);
  }
  const latency = f.latency.summary((s) => ui.red(s));
  if (latency) ui.line(`latency: ${latency}`);
  if (f.record) {
    const files = f.record.close();
    ui.line(
      files.length > 0
        ? `recorded both sides: ${files.join(", ")} (one timeline)`
        : `recorded nothing: no audio went either way`,
    );
  }
}

/** Seconds as the summary shows them: `12.3 s`, or `2 min 5 s` from a minute on. */
function formatDuration(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
