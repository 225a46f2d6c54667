/**
 * The Exit Message agent: a helpful assistant that ends the session when the
 * user wants to stop, says "Goodbye!" on the way out, and leaves the room.
 *
 * This module is also the agent entry agents-js loads in every job process
 * (its default export).
 *
 * @module
 */
import { defineAgent, type JobContext, llm, voice } from "@livekit/agents";
import { readAgentConfig } from "./core/config.ts";
import { CallEnding, sayBounded } from "./core/ending.ts";
import { endJobAfterClose, watchHangup } from "./core/job.ts";
import { bindLogContext } from "./core/log.ts";
import { createSession, inferenceModels } from "./core/session.ts";
import { DEFAULT_GOODBYE_TIMEOUT_MS } from "./core/bounds.ts";
import { prewarm, type PrewarmData, prewarmedVad } from "./prewarm.ts";

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
    execute: async (_args, { ctx }) => {
      if (!ending.request("end_session")) {
        return "The session is already closing.";
      }
      ctx.session.shutdown({ drain: true, reason: voice.CloseReason.USER_INITIATED });
      return "The session is closing.";
    },
  });
}

/** The recipe's agent: helpful, with `end_session`, and a goodbye in `onExit`. */
export class GoodbyeAgent extends voice.Agent {
  /** Shared ending state of this agent's session. */
  readonly ending: CallEnding;
  readonly #goodbyeTimeoutMs: number;

  /** Creates the agent with the recipe's instructions and the `end_session` tool. */
  constructor(options: GoodbyeAgentOptions = {}) {
    const ending = options.ending ?? new CallEnding();
    super({ instructions: INSTRUCTIONS, tools: { end_session: endSessionTool(ending) } });
    this.ending = ending;
    this.#goodbyeTimeoutMs = options.goodbyeTimeoutMs ?? DEFAULT_GOODBYE_TIMEOUT_MS;
  }

  /** Says "Goodbye!" on every close path, bounded, unless the user already hung up. */
  override async onExit(): Promise<void> {
    await sayBounded(this.session, this.ending, GOODBYE, this.#goodbyeTimeoutMs);
  }
}

/** The job entrypoint: one session with the recipe's models, then connect. */
export async function entry(ctx: JobContext<PrewarmData>): Promise<void> {
  const logger = bindLogContext({ room: ctx.job.room?.name || ctx.room.name });
  const config = readAgentConfig();
  const ending = new CallEnding();
  const session = createSession(
    { ...inferenceModels(config), vad: prewarmedVad(ctx.proc) },
    config.turnDetection,
  );
  const agent = new GoodbyeAgent({ ending, goodbyeTimeoutMs: config.goodbyeTimeoutMs });
  void endJobAfterClose(ctx, session, ending, config.endCallAction);
  const unwatch = watchHangup(ctx.room, session, ending);
  session.once(voice.AgentSessionEventTypes.Close, unwatch);
  logger.info(
    { stt: config.sttModel, llm: config.llmModel, tts: config.ttsModel },
    "starting session",
  );
  await session.start({ agent, room: ctx.room });
  await ctx.connect();
}

export default defineAgent<PrewarmData>({ prewarm, entry });
