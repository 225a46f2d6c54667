/**
 * Once the ending has started, no user input gets a reply.
 *
 * agents-js keeps taking input while the agent says goodbye: `onExit` runs
 * before it pauses speech scheduling (`AgentActivity.drain`), so a user turn,
 * a preemptive generation, a room text message or the console protocol's
 * `run_input` would each ask the LLM and have its answer spoken after (or,
 * for `run_input`, which force-interrupts the current speech, instead of) the
 * goodbye. The agent guards its own session at every door:
 *
 * - {@link GuardedSession.interrupt}: refused while ending, so nothing from
 *   outside (the console's `run_input`, a room text message) cuts the goodbye;
 *   the ending's own interrupts go through the speech handles and the
 *   activity, not through this method;
 * - {@link GuardedSession.generateReply}: refused while ending (`run()` and the
 *   room text input both go through it), so the input is not sent to the LLM;
 * - every speech created while ending other than a `say()` (the goodbye) is
 *   interrupted at birth (a preemptive generation or a user turn that slipped
 *   in), see {@link GuardedSession.guard};
 * - the agent itself answers no user turn (`onUserTurnCompleted`) and asks the
 *   LLM nothing (`llmNode`) once the ending started (agent.ts).
 *
 * @module
 */
import { Future, voice } from "@livekit/agents";
import type { CallEnding } from "./ending.ts";
import { log } from "./log.ts";

/** What a refused `generateReply` throws: `run()` turns it into the `run_input` response's error. */
export class CallEndingError extends Error {
  /** Creates the error; the message is what the console protocol's peer sees. */
  constructor() {
    super("the call is ending; new input gets no reply");
    this.name = "CallEndingError";
  }
}

function describe(input: unknown): Record<string, unknown> {
  const text = typeof input === "string" ? input : undefined;
  return text === undefined ? {} : { input_chars: text.length };
}

/** An `AgentSession` that, once its call's ending started, takes no new input (see the module doc). */
export class GuardedSession extends voice.AgentSession {
  #ending?: CallEnding;

  /**
   * Binds the session to its call's ending and interrupts, at birth, any
   * reply speech created once the ending started. Returns the unsubscribe
   * function.
   */
  guard(ending: CallEnding): () => void {
    this.#ending = ending;
    const onSpeech = (ev: voice.SpeechCreatedEvent) => {
      if (!ending.isStarted || ev.source === "say") return;
      log().info(
        { speech_id: ev.speechHandle.id, source: ev.source },
        "a reply was started while the call is ending; cancelled it",
      );
      ev.speechHandle.interrupt(true);
    };
    this.on(voice.AgentSessionEventTypes.SpeechCreated, onSpeech);
    return () => this.off(voice.AgentSessionEventTypes.SpeechCreated, onSpeech);
  }

  /** True once the ending started: new input must get no reply. */
  get isEnding(): boolean {
    return this.#ending?.isStarted ?? false;
  }

  /** Interrupts the current speech, except while the call is ending (the goodbye is not cut). */
  override interrupt(options?: { force?: boolean }): Future<void> {
    if (!this.isEnding) return super.interrupt(options);
    log().info(
      { force: options?.force ?? false },
      "not interrupting: the call is ending and the goodbye must play in full",
    );
    const done = new Future<void>();
    done.resolve();
    return done;
  }

  /** Generates a reply, except while the call is ending: then throws {@link CallEndingError}. */
  override generateReply(
    options?: Parameters<voice.AgentSession["generateReply"]>[0],
  ): voice.SpeechHandle {
    if (!this.isEnding) return super.generateReply(options);
    log().info(
      describe(options?.userInput),
      "input arrived while the call is ending; not answering it",
    );
    throw new CallEndingError();
  }
}

/**
 * The room's text input (agents-js's default callback: interrupt, then reply)
 * with the ending's guard, so a message typed during the goodbye is logged
 * once instead of surfacing as an error.
 */
export const guardedTextInput: voice.TextInputCallback = (session, ev) => {
  if (session instanceof GuardedSession && session.isEnding) {
    log().info(describe(ev.text), "room text input arrived while the call is ending; ignored");
    return;
  }
  session.interrupt();
  session.generateReply({ userInput: ev.text });
};
