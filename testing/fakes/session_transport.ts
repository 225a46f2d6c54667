/**
 * The console protocol's socket, in memory: a {@link voice.SessionTransport}
 * that agents-js's own `SessionHost` reads requests from and writes responses
 * to, so a test drives the real `SessionHost` (its `run_input` handling
 * included) without a TCP peer.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { voice } from "@livekit/agents";

/** A transport a test writes requests into and reads responses from. */
export class MemorySessionTransport extends voice.SessionTransport {
  readonly #incoming: pb.AgentSessionMessage[] = [];
  #wake?: () => void;
  #closed = false;
  readonly #responses = new Map<string, (r: pb.SessionResponse) => void>();
  #ids = 0;

  /** Sends a `run_input` request; resolves with its response's error (undefined: a reply). */
  runInput(text: string): Promise<string | undefined> {
    const requestId = `test-${++this.#ids}`;
    const response = new Promise<pb.SessionResponse>((r) => this.#responses.set(requestId, r));
    this.#push(
      new pb.AgentSessionMessage({
        message: {
          case: "request",
          value: new pb.SessionRequest({
            requestId,
            request: { case: "runInput", value: new pb.SessionRequest_RunInput({ text }) },
          }),
        },
      }),
    );
    return response.then((r) => r.error || undefined);
  }

  #push(msg: pb.AgentSessionMessage): void {
    this.#incoming.push(msg);
    this.#wake?.();
  }

  /** What the host sends: responses are matched to their requests, events dropped. */
  override sendMessage(msg: pb.AgentSessionMessage): Promise<void> {
    if (msg.message.case === "response") {
      const response = msg.message.value;
      this.#responses.get(response.requestId)?.(response);
      this.#responses.delete(response.requestId);
    }
    return Promise.resolve();
  }

  /** Ends the host's read loop. */
  override close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    return Promise.resolve();
  }

  /** The requests the test sent, in order, until {@link close}. */
  override async *[Symbol.asyncIterator](): AsyncIterator<pb.AgentSessionMessage> {
    while (!this.#closed) {
      const next = this.#incoming.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
  }
}
