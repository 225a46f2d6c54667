/**
 * What the console shows of the agent's speech and failures: what the user
 * actually heard.
 *
 * The chat history says the agent said something once its speech ended,
 * whether or not any audio was produced: with the TTS failing, "Goodbye!"
 * (and its retry) would be shown as said although nothing was heard. So an
 * agent message for which no audio reached the console is held, merged with
 * an identical retry, and shown once as not heard, with the cause the agent
 * reports (`core/console_report.ts`: the goodbye's outcome, a failed turn).
 * A failed turn is shown as one line with its cause; the protocol's own
 * `error` event only names a model, so it is not shown.
 *
 * @module
 */
import type { AgentReport } from "../core/console_report.ts";
import type { ConsoleUi } from "./ui.ts";

// C0/C1 control characters (escape sequences included) out of text that came
// from a model or a server, so a cause cannot rewrite the screen.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function clean(text: string): string {
  return text.replace(CONTROL, "").replace(/\s+/g, " ").trim();
}

/** Options of {@link HeardView}. */
export interface HeardOptions {
  /** Whether the agent's speech is synthesized at all (false with `--silent`). */
  audioOut: boolean;
  /** Agent audio frames received so far (the broker's count). */
  audioFrames: () => number;
}

/** Shows agent messages as heard or not, and the agent's failure reports (see the module doc). */
export class HeardView {
  readonly #ui: ConsoleUi;
  readonly #opts: HeardOptions;
  #framesAtLastMessage = 0;
  #pending?: string;
  #lastCause?: string;
  #failure?: { model: string; cause: string; failedTurns: number };
  #endReason?: string;
  #goodbye?: string;

  /** Creates the view over `ui`. */
  constructor(ui: ConsoleUi, opts: HeardOptions) {
    this.#ui = ui;
    this.#opts = opts;
  }

  /**
   * An agent message from the chat history. Returns `heard` when it was
   * shown as said, `not_heard` when it is held to be shown as not heard, and
   * `retry` when it repeats the message already held (a retry nobody heard).
   */
  agentMessage(text: string, interrupted: boolean): "heard" | "not_heard" | "retry" {
    const frames = this.#opts.audioFrames();
    const heard = !this.#opts.audioOut || frames > this.#framesAtLastMessage;
    this.#framesAtLastMessage = frames;
    if (heard) {
      this.flush();
      this.#ui.agent(text, interrupted);
      return "heard";
    }
    if (this.#pending === text) return "retry";
    this.flush();
    this.#pending = text;
    return "not_heard";
  }

  /** A report from the agent: shown, and kept for the summary and the exit status. */
  report(report: AgentReport): void {
    switch (report.kind) {
      case "failed_turn": {
        const cause = clean(report.cause);
        if (report.model === "tts") this.#lastCause = cause;
        this.flush(cause);
        const then = report.apology === "none"
          ? "the agent ends the call"
          : report.apology === "said"
          ? "the agent apologized"
          : "the agent could not apologize (its TTS failed)";
        this.#ui.warn(
          `${cause}; failed turn ${report.failedTurns} of ${report.maxFailedTurns} in a row; ${then}`,
        );
        if (report.apology === "none") {
          this.#failure = { model: report.model, cause, failedTurns: report.failedTurns };
        }
        break;
      }
      case "goodbye":
        this.#goodbye = report.outcome;
        if (report.cause) this.#lastCause = `the TTS failed: ${clean(report.cause)}`;
        this.flush(this.#lastCause);
        if (report.outcome === "partial") this.#ui.warn("the goodbye was cut short");
        break;
      case "session_ended":
        this.#endReason = report.endReason;
        this.#goodbye = report.goodbye;
        this.flush();
        break;
    }
  }

  /** Shows the message held as not heard, if any, with `cause` (or the last TTS failure's). */
  flush(cause: string | undefined = this.#lastCause): void {
    const text = this.#pending;
    if (text === undefined) return;
    this.#pending = undefined;
    const why = cause ? `not heard: ${cause}` : "not heard";
    this.#ui.agent(`${text} ${this.#ui.tty ? this.#ui.dim(`(${why})`) : `[${why}]`}`);
  }

  /** The failure that ended the call, when the models failed `MAX_FAILED_TURNS` times. */
  get failure(): { model: string; cause: string; failedTurns: number } | undefined {
    return this.#failure;
  }

  /** The end reason the agent reported, if its last report arrived. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** How the goodbye went, as the agent reported it. */
  get goodbye(): string | undefined {
    return this.#goodbye;
  }
}
