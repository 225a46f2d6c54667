/**
 * A session on the REAL LiveKit Inference plugins (`inference.STT/LLM/TTS`)
 * against the in-process gateway stand-in, with the project's own agent, tool
 * and job glue, a real-time recording speaker, and the log stream captured:
 * what the session-level fault tests drive. Everything is on 127.0.0.1.
 *
 * @module
 */
import { inference, initializeLogger, JobProcess, voice } from "@livekit/agents";
import { GoodbyeAgent } from "../agent.ts";
import type { AgentReport } from "../core/console_report.ts";
import { CallEnding } from "../core/ending.ts";
import { type EndingBounds, endJobAfterClose } from "../core/job_end.ts";
import { TIMED_OUT, withTimeout } from "../core/timeout.ts";
import { type ConnOptions, createSession } from "../core/session.ts";
import { prewarm, type PrewarmData, prewarmedVad } from "../prewarm.ts";
import {
  type Gateway,
  type GatewayFaults,
  type LlmBrain,
  offlineBrain,
  startGateway,
} from "../simulation/mod.ts";
import { KEY, SECRET } from "./simulation_support.ts";
import { captureLogs, type LogCapture, type LogLine } from "./log_capture.ts";
import { RecordingAudioOutput, RecordingJob } from "./fakes/session_fakes.ts";

export { RecordingJob };

initializeLogger({ pretty: false, level: "warn" });
// One process-wide prewarm, as a job process has.
const proc = new JobProcess<PrewarmData>();
await prewarm(proc);

/** Options of {@link startFaultCall}. */
export interface FaultCallOptions {
  /** The LLM's script; default the offline brain (goodbye -> text + end_session). */
  brain?: LlmBrain;
  /** Faults set before the session starts. */
  faults?: GatewayFaults;
  /** Goodbye bound (the agent's `GOODBYE_TIMEOUT_MS`). */
  goodbyeTimeoutMs?: number;
  /** LLM watchdog bounds. */
  llmTimeouts?: { firstChunkMs?: number; idleMs?: number };
  /** Speech drain bound of the agent. */
  speechDrainMs?: number;
  /** Ending bounds of the job glue. */
  bounds?: EndingBounds;
  /** `MAX_FAILED_TURNS` of the agent (production default 3). */
  maxFailedTurns?: number;
  /** The job the glue ends (default a {@link RecordingJob} in worker mode). */
  job?: RecordingJob;
  /** Plugin retry settings (default agents-js's: 4 attempts, 0.1 + 2 + 2 s apart). */
  connOptions?: ConnOptions;
}

/** A running call; dispose it (`await using`) to close everything. */
export interface FaultCall extends AsyncDisposable {
  gw: Gateway;
  session: voice.AgentSession;
  speaker: RecordingAudioOutput;
  ending: CallEnding;
  job: RecordingJob;
  agent: GoodbyeAgent;
  logs: LogCapture;
  /** What the agent reported for a console (`core/console_report.ts`), in order. */
  reports: AgentReport[];
  /** `performance.now()` when the session had started. */
  startedAt: number;
  /** Resolves with the end reason and the ms from `from` to `Close`; throws past `ms`. */
  waitClosed(ms: number): Promise<{ endReason: string; at: number }>;
  /** The `session ended` line (throws if missing or not unique). */
  endLine(): LogLine;
}

/** Starts a gateway stand-in and a session on the real inference plugins against it. */
export async function startFaultCall(options: FaultCallOptions = {}): Promise<FaultCall> {
  const logs = captureLogs("debug");
  const gw = await startGateway({
    apiKey: KEY,
    apiSecret: SECRET,
    llm: options.brain ?? offlineBrain(),
    faults: options.faults,
  });
  const auth = { baseURL: gw.url, apiKey: KEY, apiSecret: SECRET };
  const ending = new CallEnding();
  const session = createSession(
    {
      stt: new inference.STT({ model: "deepgram/nova-3", language: "en", ...auth }),
      llm: new inference.LLM({ model: "openai/gpt-4.1-mini", ...auth }),
      tts: new inference.TTS({
        model: "cartesia/sonic-3",
        voice: "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
        ...auth,
      }),
      vad: prewarmedVad(proc),
    },
    "vad",
    ending,
    options.connOptions,
  );
  const reports: AgentReport[] = [];
  ending.report = (r) => reports.push(r);
  const speaker = new RecordingAudioOutput();
  session.output.audio = speaker;
  const job = options.job ?? new RecordingJob();
  let closedAt = 0;
  session.once(voice.AgentSessionEventTypes.Close, () => closedAt = performance.now());
  const ended = endJobAfterClose(job, session, ending, "delete_room", {
    ...options.bounds,
    exit: options.bounds?.exit ?? ((code) => {
      throw new Error(`the job glue tried to exit the test process (${code})`);
    }),
  });
  const agent = new GoodbyeAgent({
    ending,
    goodbyeTimeoutMs: options.goodbyeTimeoutMs ?? 2_000,
    llmTimeouts: options.llmTimeouts,
    speechDrainMs: options.speechDrainMs,
    maxFailedTurns: options.maxFailedTurns,
    gatewayUrl: gw.url,
  });
  await session.start({ agent });
  const startedAt = performance.now();
  return {
    gw,
    session,
    speaker,
    ending,
    job,
    agent,
    logs,
    reports,
    startedAt,
    async waitClosed(ms) {
      const reason = await withTimeout(ended, ms);
      if (reason === TIMED_OUT) throw new Error(`session did not close within ${ms} ms`);
      return { endReason: reason, at: closedAt };
    },
    endLine() {
      const lines = logs.lines.filter((l) => l.msg.startsWith("session ended: "));
      if (lines.length !== 1) {
        throw new Error(`expected one 'session ended' line, got ${JSON.stringify(lines)}`);
      }
      return lines[0];
    },
    async [Symbol.asyncDispose]() {
      try {
        speaker.dispose();
        // A test may leave the ending stuck on purpose; release it so close() can
        // finish. Through the activity: the session refuses interrupts while ending.
        try {
          agent.getActivityOrThrow().interrupt({ force: true });
        } catch {
          // already closed
        }
        await session.close();
        await Promise.allSettled([
          session.llm instanceof inference.LLM ? session.llm.aclose() : undefined,
          session.tts?.close(),
          session.stt?.close(),
        ]);
      } finally {
        await gw.close();
        logs[Symbol.dispose]();
      }
    },
  };
}
