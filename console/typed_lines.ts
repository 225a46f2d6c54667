/**
 * Typed lines on their way to the agent, one at a time: the console
 * protocol's `run_input` resolves only after the reply has played, so a line
 * typed meanwhile waits for its turn. In text mode the end of the input ends
 * the session once every line was answered.
 *
 * @module
 */
import type { BrokerSession } from "./broker.ts";

/** What {@link TypedLines} needs from the run; the run creates some of it later. */
export interface TypedLinesDeps {
  /** True while the session runs (lines typed at any other time are dropped). */
  running(): boolean;
  /** The session, once the agent connected. */
  broker(): BrokerSession | undefined;
  /** A line is sent now: show it as the user's turn. */
  sent(text: string): void;
  /** The agent did not answer a line. */
  warn(message: string): void;
  /** The input ended and every line was answered. */
  inputEnded(): void;
}

/** The queue of typed lines (see the module doc). */
export class TypedLines {
  #deps: TypedLinesDeps;
  #lines: string[] = [];
  #pumping = false;
  #ended = false;

  /** An empty queue over `deps`. */
  constructor(deps: TypedLinesDeps) {
    this.#deps = deps;
  }

  /** Queues a typed line (blank lines, and lines outside the session, are dropped). */
  add(line: string): void {
    const text = line.trim();
    if (!text || !this.#deps.running()) return;
    this.#lines.push(text);
    void this.#pump();
  }

  /** The input ended: once the queue is empty, {@link TypedLinesDeps.inputEnded} is called. */
  end(): void {
    this.#ended = true;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      let broker: BrokerSession | undefined;
      while (this.#lines.length > 0 && this.#deps.running() && (broker = this.#deps.broker())) {
        const text = this.#lines.shift()!;
        this.#deps.sent(text);
        try {
          await broker.runInput(text);
        } catch (e) {
          if (this.#deps.running() && !broker.isClosed) {
            this.#deps.warn(`the agent did not answer (${(e as Error).message})`);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#ended && this.#lines.length === 0 && this.#deps.running()) {
      this.#deps.inputEnded();
    }
  }
}
