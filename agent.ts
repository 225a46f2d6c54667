/**
 * The Exit Message agent: a helpful assistant that ends the session when the
 * user wants to stop, says "Goodbye!" on the way out, and leaves the room.
 *
 * This module is also the agent entry agents-js loads in every job process
 * (its default export).
 *
 * @module
 */
import {
  defineAgent,
  type JobContext,
  type JobProcess,
  llm,
  type stt,
  voice,
} from "@livekit/agents";
import type { AudioFrame } from "@livekit/rtc-node";
import { DEFAULT_APOLOGY, readAgentConfig } from "./core/config.ts";
import { ROOM_INPUT, ROOM_OUTPUT } from "./core/audio_path.ts";
import { consoleReporter } from "./core/console_report.ts";
import { CallEnding } from "./core/ending.ts";
import { watchHangup } from "./core/hangup.ts";
import { type EndingBounds, endJobAfterClose } from "./core/job_end.ts";
import { sayBounded } from "./core/say_bounded.ts";
import { watchSignals } from "./core/signals.ts";
import { guardedTextInput } from "./core/reply_guard.ts";
import { greetResumed, readResume } from "./core/resume.ts";
import { watchOtherAgents } from "./core/one_agent.ts";
import { closeModels, createSession, inferenceModels } from "./core/session.ts";
import { watchRoomLink } from "./core/room_link.ts";
import { reopeningStt } from "./core/stt_reopen.ts";
import { FailedTurns } from "./core/turn_failures.ts";
import {
  DEFAULT_GOODBYE_TIMEOUT_MS,
  DEFAULT_MAX_FAILED_TURNS,
  LLM_FIRST_CHUNK_TIMEOUT_MS,
  LLM_IDLE_TIMEOUT_MS,
} from "./core/bounds.ts";
import { guardStream, LlmStallError } from "./core/watchdog.ts";
import { bindLogContext, log } from "./core/log.ts";
import { prewarm, type PrewarmData, prewarmedVad } from "./prewarm.ts";
import { guardPrewarm } from "./worker/job_process.ts";
import { withJobProcessSetup } from "./worker/job_metrics.ts";
import { watchCallMetrics } from "./core/call_metrics.ts";
import { rehearseCall } from "./worker/warm_up.ts";

/** The recipe's instructions, word for word. */
export const INSTRUCTIONS =
  "You are a helpful agent. When the user wants to stop talking to you, use the end_session function to close the session.";

/** What the agent says on the way out, whoever started the close. */
export const GOODBYE = "Goodbye!";

/** Options of {@link GoodbyeAgent}. */
export interface GoodbyeAgentOptions {
  /** Shared ending state; the job glue reads it to log why the call ended. */
  ending?: CallEnding;
  /** Bound on the goodbye, synthesis to playout. */
  goodbyeTimeoutMs?: number;
  /** Bound on the speech playing when the goodbye is asked for (default `SPEECH_DRAIN_TIMEOUT_MS`). */
  speechDrainMs?: number;
  /** Bounds on each LLM reply (defaults from `core/bounds.ts`). */
  llmTimeouts?: { firstChunkMs?: number; idleMs?: number };
  /** Failed turns in a row that end the call (default `DEFAULT_MAX_FAILED_TURNS`). */
  maxFailedTurns?: number;
  /** What the agent says after a failed turn (default `DEFAULT_APOLOGY`). */
  apology?: string;
  /** The Inference gateway, named in failure lines (`core/model_error.ts`). */
  gatewayUrl?: string;
}

/**
 * Ends the session on request. It must not wait for its own close: the close
 * drains the tool executor, which waits for this tool (a deadlock in the
 * literal port of `await session.aclose()`). So it asks for a draining
 * shutdown and returns; what the LLM says in the same turn still plays in full.
 */
export function endSessionTool(ending: CallEnding) {
  return llm.tool({
    description: "Close the session. Call this when the user wants to stop talking to you.",
    execute: (_args, { ctx }) => {
      if (!ending.request("end_session")) {
        return Promise.resolve("The session is already closing.");
      }
      ctx.session.shutdown({ drain: true, reason: voice.CloseReason.USER_INITIATED });
      return Promise.resolve("The session is closing.");
    },
  });
}

/** The recipe's agent: helpful, with `end_session`, and a goodbye in `onExit`. */
export class GoodbyeAgent extends voice.Agent {
  /** Shared ending state of this agent's session. */
  readonly ending: CallEnding;
  readonly #goodbyeTimeoutMs: number;
  readonly #llmFirstChunkMs: number;
  readonly #llmIdleMs: number;
  readonly #speechDrainMs?: number;
  readonly #failedTurns: { maxFailedTurns: number; apology: string; gatewayUrl?: string };
  #failures?: FailedTurns;
  #detachFailures?: () => void;

  /** Creates the agent with the recipe's instructions and the `end_session` tool. */
  constructor(options: GoodbyeAgentOptions = {}) {
    const ending = options.ending ?? new CallEnding();
    super({ instructions: INSTRUCTIONS, tools: { end_session: endSessionTool(ending) } });
    this.ending = ending;
    this.#goodbyeTimeoutMs = options.goodbyeTimeoutMs ?? DEFAULT_GOODBYE_TIMEOUT_MS;
    this.#llmFirstChunkMs = options.llmTimeouts?.firstChunkMs ?? LLM_FIRST_CHUNK_TIMEOUT_MS;
    this.#llmIdleMs = options.llmTimeouts?.idleMs ?? LLM_IDLE_TIMEOUT_MS;
    this.#speechDrainMs = options.speechDrainMs;
    this.#failedTurns = {
      maxFailedTurns: options.maxFailedTurns ?? DEFAULT_MAX_FAILED_TURNS,
      apology: options.apology ?? DEFAULT_APOLOGY,
      gatewayUrl: options.gatewayUrl,
    };
  }

  /** Applies the failed-turn policy (`core/turn_failures.ts`) to this agent's session. */
  override onEnter(): Promise<void> {
    this.#failedTurnPolicy();
    return Promise.resolve();
  }

  // Created by whichever comes first: onEnter, or the STT node, which
  // agents-js opens when the activity starts, before onEnter runs.
  #failedTurnPolicy(): FailedTurns {
    if (!this.#failures) {
      this.#failures = new FailedTurns(this.session, this.ending, this.#failedTurns);
      this.#detachFailures = this.#failures.attach();
    }
    return this.#failures;
  }

  /** Says "Goodbye!" on every close path, bounded, unless the user already hung up. */
  override async onExit(): Promise<void> {
    // The speech playing now (the LLM's words in the end_session turn, if
    // any) goes first; sayBounded bounds how long it may take.
    const before = this.getActivityOrThrow().currentSpeech;
    try {
      await sayBounded(this.session, this.ending, GOODBYE, this.#goodbyeTimeoutMs, {
        before,
        drainMs: this.#speechDrainMs,
      });
    } finally {
      this.#detachFailures?.();
    }
  }

  /** Once the call is ending, a user turn gets no reply (see `core/reply_guard.ts`). */
  override onUserTurnCompleted(
    _chatCtx: llm.ChatContext,
    newMessage: llm.ChatMessage,
  ): Promise<void> {
    if (!this.ending.isStarted) return Promise.resolve();
    log().info(
      { input_chars: newMessage.textContent?.length ?? 0 },
      "the user spoke while the call is ending; not answering",
    );
    return Promise.reject(new voice.StopResponse());
  }

  /**
   * The default STT node, reopened after an STT failure the failed-turn
   * policy tolerated (agents-js leaves the agent deaf once its STT stream
   * failed). It ends for good when the call is ending.
   */
  override sttNode(
    audio: ReadableStream<AudioFrame> | AsyncIterable<AudioFrame>,
    modelSettings: voice.ModelSettings,
  ): Promise<ReadableStream<stt.SpeechEvent | string> | null> {
    const failures = this.#failedTurnPolicy();
    // One stream for every STT stream opened on it: each detaches from it when it ends.
    const input = audio instanceof ReadableStream ? audio : ReadableStream.from(audio);
    return Promise.resolve(reopeningStt({
      open: () => super.sttNode(input, modelSettings),
      failures: () => failures.sttFailures,
      mayReopen: () => !this.ending.isStarted,
    }));
  }

  /**
   * The default LLM node under a watchdog: a reply whose first chunk or next
   * chunk does not come within its bound is cut off (the LLM request is
   * cancelled) and reported to the session as an unrecoverable LLM error,
   * exactly as a failure after the plugin's retries would be, so it counts as
   * a failed turn (`core/turn_failures.ts`). agents-js has no such bound: a
   * stream that stops mid-reply holds the turn forever. Once the call is
   * ending the LLM is asked nothing (a preemptive generation or a turn that
   * slipped past the other guards gets no text).
   */
  override async llmNode(
    chatCtx: llm.ChatContext,
    toolCtx: llm.ToolContext,
    modelSettings: voice.ModelSettings,
  ): Promise<ReadableStream<llm.ChatChunk | string> | null> {
    if (this.ending.isStarted) {
      log().info("not asking the LLM: the call is ending");
      return null;
    }
    const upstream = await super.llmNode(chatCtx, toolCtx, modelSettings);
    if (!upstream) return upstream;
    return guardStream(upstream as ReadableStream<llm.ChatChunk | string>, {
      firstChunkMs: this.#llmFirstChunkMs,
      idleMs: this.#llmIdleMs,
      onStall: (stall, waitedMs) => {
        const what = stall === "first_chunk" ? "did not start" : "stopped mid-reply";
        log().warn(
          { stalled: "llm", llm_stall: stall, timeout_ms: waitedMs },
          `the LLM reply ${what} (no chunk for ${waitedMs} ms); cancelled it`,
        );
        const model = this.session.llm;
        if (model instanceof llm.LLM) {
          // Through the LLM's own error event, so the session applies the
          // same policy as to a failure after the plugin's retries.
          model.emit("error", {
            type: "llm_error",
            timestamp: Date.now(),
            label: model.label(),
            error: new LlmStallError(stall, waitedMs),
            recoverable: false,
          });
        }
      },
    });
  }
}

/** What a test may change in {@link createEntry}; production uses none of it. */
export interface EntryOptions {
  /** Bounds of the job's ending (see `EndingBounds` in core/job_end.ts). */
  ending?: EndingBounds;
}

/** The job entrypoint: one session with the recipe's models, then connect. */
export function entry(ctx: JobContext<PrewarmData>): Promise<void> {
  return createEntry()(ctx);
}

/**
 * Builds the entrypoint. Tests pass shorter bounds (a real-room test of the forced ending uses a
 * close bound of a few seconds) and run it from an agent module of their own.
 */
export function createEntry(options: EntryOptions = {}) {
  return (ctx: JobContext<PrewarmData>) => runEntry(ctx, options);
}

async function runEntry(ctx: JobContext<PrewarmData>, options: EntryOptions): Promise<void> {
  const logger = bindLogContext({ room: ctx.job.room?.name || ctx.room.name });
  const config = readAgentConfig();
  const ending = new CallEnding();
  const models = inferenceModels(config);
  ctx.addShutdownCallback(() => closeModels(models));
  const session = createSession(
    { ...models, vad: prewarmedVad(ctx.proc) },
    config.turnDetection,
    ending,
  );
  // A console shows what was heard and why the call ended (core/console_report.ts).
  if (ctx.isFakeJob) ending.report = consoleReporter(session);
  const agent = new GoodbyeAgent({
    ending,
    goodbyeTimeoutMs: config.goodbyeTimeoutMs,
    maxFailedTurns: config.maxFailedTurns,
    apology: config.apologyText,
    gatewayUrl: config.inferenceUrl,
  });
  void endJobAfterClose(ctx, session, ending, config.endCallAction, options.ending);
  // Counted by the worker's /metrics (a no-op in the console and with metrics off).
  watchCallMetrics(session, ending);
  const unwatchHangup = watchHangup(ctx.room, session, ending);
  // A console job's room is never connected; a worker job's can be lost mid-call.
  const unwatchLink = ctx.isFakeJob ? () => {} : watchRoomLink(ctx.room, session, ending);
  session.once(voice.AgentSessionEventTypes.Close, () => {
    unwatchHangup();
    unwatchLink();
  });
  // Console runs the job in the CLI process, which owns the signals; a job
  // process in worker mode is stopped by its worker, never by a signal.
  if (ctx.isFakeJob) {
    const unwatchSignals = watchSignals(ending);
    ctx.addShutdownCallback(() => Promise.resolve(unwatchSignals()));
  }
  logger.info(
    { stt: config.sttModel, llm: config.llmModel, tts: config.ttsModel },
    "starting session",
  );
  await session.start({
    agent,
    room: ctx.room,
    inputOptions: { ...ROOM_INPUT, textInputCallback: guardedTextInput },
    outputOptions: ROOM_OUTPUT,
  });
  await ctx.connect();
  if (!ctx.isFakeJob) {
    // One agent per call, even when a node's loss brings a second one (core/one_agent.ts).
    const unwatchOthers = watchOtherAgents(ctx.room, session, ending);
    session.once(voice.AgentSessionEventTypes.Close, () => unwatchOthers());
  }
  // A replacement for an agent lost mid-call (dispatched by the call keeper, keeper/) speaks first.
  const resume = readResume(ctx.job.metadata);
  if (resume) greetResumed(session, ending, resume);
}

/**
 * Rehearses one turn of a call in a job process before it is offered a call (worker/warm_up.ts):
 * this agent's own session, agent and Inference models, against a gateway simulation on
 * 127.0.0.1. Their code is then compiled when the first call comes, instead of in 50–150 ms
 * chunks of its first seconds.
 */
export function warmCall(proc: JobProcess<PrewarmData>): Promise<{ speechSeconds: number }> {
  const config = readAgentConfig();
  return rehearseCall((gateway) => {
    const ending = new CallEnding();
    const models = inferenceModels(config, gateway);
    return {
      session: createSession(
        { ...models, vad: prewarmedVad(proc) },
        config.turnDetection,
        ending,
      ),
      agent: new GoodbyeAgent({ ending, gatewayUrl: gateway.baseURL }),
      close: () => closeModels(models),
    };
  });
}

// guardPrewarm: a worker shutdown that reaches an idle process while it prewarms
// would otherwise be dropped by agents-js 1.9.0 (see worker/job_process.ts).
// withJobProcessSetup: the job process's warm-up, metrics channel and loop monitor
// (worker/job_metrics.ts).
export default defineAgent<PrewarmData>({
  prewarm: guardPrewarm(withJobProcessSetup(prewarm, warmCall)),
  entry,
});
