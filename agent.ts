/**
 * The Exit Message agent: a helpful assistant that ends the session when the
 * user wants to stop, says "Goodbye!" on the way out, and leaves the room.
 *
 * This module is also the agent entry agents-js loads in every job process
 * (its default export).
 *
 * @module
 */
import { APIConnectionError, defineAgent, type JobContext, llm, voice } from "@livekit/agents";
import { readAgentConfig } from "./core/config.ts";
import { CallEnding, sayBounded } from "./core/ending.ts";
import { endJobAfterClose, watchHangup, watchSignals } from "./core/job.ts";
import { closeModels, createSession, inferenceModels } from "./core/session.ts";
import { watchRoomLink } from "./core/room_link.ts";
import {
  DEFAULT_GOODBYE_TIMEOUT_MS,
  LLM_FIRST_CHUNK_TIMEOUT_MS,
  LLM_IDLE_TIMEOUT_MS,
} from "./core/bounds.ts";
import { guardStream } from "./core/watchdog.ts";
import { bindLogContext, log } from "./core/log.ts";
import { prewarm, type PrewarmData, prewarmedVad } from "./prewarm.ts";
import { guardPrewarm } from "./worker/job_process.ts";

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

  /** Creates the agent with the recipe's instructions and the `end_session` tool. */
  constructor(options: GoodbyeAgentOptions = {}) {
    const ending = options.ending ?? new CallEnding();
    super({ instructions: INSTRUCTIONS, tools: { end_session: endSessionTool(ending) } });
    this.ending = ending;
    this.#goodbyeTimeoutMs = options.goodbyeTimeoutMs ?? DEFAULT_GOODBYE_TIMEOUT_MS;
    this.#llmFirstChunkMs = options.llmTimeouts?.firstChunkMs ?? LLM_FIRST_CHUNK_TIMEOUT_MS;
    this.#llmIdleMs = options.llmTimeouts?.idleMs ?? LLM_IDLE_TIMEOUT_MS;
    this.#speechDrainMs = options.speechDrainMs;
  }

  /** Says "Goodbye!" on every close path, bounded, unless the user already hung up. */
  override async onExit(): Promise<void> {
    // The speech playing now (the LLM's words in the end_session turn, if
    // any) goes first; sayBounded bounds how long it may take.
    const before = this.getActivityOrThrow().currentSpeech;
    await sayBounded(this.session, this.ending, GOODBYE, this.#goodbyeTimeoutMs, {
      before,
      drainMs: this.#speechDrainMs,
    });
  }

  /**
   * The default LLM node under a watchdog: a reply whose first chunk or next
   * chunk does not come within its bound is cut off (the LLM request is
   * cancelled) and reported to the session as an unrecoverable LLM error,
   * exactly as a failure after the plugin's retries would be. The session's
   * policy (`MAX_UNRECOVERABLE_ERRORS`) then closes it with `llm_error`, and
   * `onExit` still says goodbye. agents-js has no such bound: a stream that
   * stops mid-reply holds the turn forever.
   */
  override async llmNode(
    chatCtx: llm.ChatContext,
    toolCtx: llm.ToolContext,
    modelSettings: voice.ModelSettings,
  ): Promise<ReadableStream<llm.ChatChunk | string> | null> {
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
            error: new APIConnectionError({
              message: `LLM reply ${what}: no chunk for ${waitedMs} ms`,
              options: { retryable: false },
            }),
            recoverable: false,
          });
        }
      },
    });
  }
}

/** The job entrypoint: one session with the recipe's models, then connect. */
export async function entry(ctx: JobContext<PrewarmData>): Promise<void> {
  const logger = bindLogContext({ room: ctx.job.room?.name || ctx.room.name });
  const config = readAgentConfig();
  const ending = new CallEnding();
  const models = inferenceModels(config);
  ctx.addShutdownCallback(() => closeModels(models));
  const session = createSession({ ...models, vad: prewarmedVad(ctx.proc) }, config.turnDetection);
  const agent = new GoodbyeAgent({ ending, goodbyeTimeoutMs: config.goodbyeTimeoutMs });
  void endJobAfterClose(ctx, session, ending, config.endCallAction);
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
  await session.start({ agent, room: ctx.room });
  await ctx.connect();
}

// guardPrewarm: a worker shutdown that reaches an idle process while it prewarms
// would otherwise be dropped by agents-js 1.9.0 (see worker/job_process.ts).
export default defineAgent<PrewarmData>({ prewarm: guardPrewarm(prewarm), entry });
