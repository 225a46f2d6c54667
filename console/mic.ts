/**
 * The gate that keeps a real microphone from hearing the agent on the
 * speakers (a replayed recording has no echo: see replay.ts).
 *
 * @module
 */

/**
 * Half-duplex gate for a device microphone without echo cancellation: while
 * the agent's audio plays (and `tailMs` after), frames are replaced by
 * silence so the agent does not hear, and interrupt, itself. `--barge-in`
 * turns it off for headsets.
 */
export class EchoGate {
  #openAt = 0;
  constructor(readonly enabled: boolean, readonly tailMs = 300) {}

  /** Call while the agent is audible. */
  hold(): void {
    this.#openAt = performance.now() + this.tailMs;
  }

  /** The frame to send: `frame` itself, or silence while the agent speaks. */
  pass(frame: Int16Array, agentAudible: boolean): Int16Array {
    if (!this.enabled) return frame;
    if (agentAudible) this.hold();
    return performance.now() < this.#openAt ? new Int16Array(frame.length) : frame;
  }
}
