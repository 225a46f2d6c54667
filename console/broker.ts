/**
 * The broker half of the agents-js console protocol (what `lk console` does
 * in Go): a TCP server on loopback that the agent dials at `session.start()`,
 * and a {@link BrokerSession} per connection that answers playout flushes,
 * sends requests (run_input, update_io, ...) and streams microphone frames.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { encodeMessage, FrameDecoder } from "./framing.ts";
import type { Playout } from "./playout.ts";

/** Wire rate of audio in both directions (agents-js resamples to 24 kHz itself). */
export const WIRE_SAMPLE_RATE = 48000;
/** Microphone frame length: 30 ms at 48 kHz. */
export const MIC_FRAME_SAMPLES = 1440;

/** A broker port that cannot be bound (in use, or not permitted). */
export class BrokerListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BrokerListenError";
  }
}

/** Opens the loopback listener; port 0 picks a free ephemeral port. */
export function listenBroker(port = 0): Deno.TcpListener {
  try {
    return Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new BrokerListenError(
        `port ${port} on 127.0.0.1 is already in use; free it or pick another with --port (or omit --port)`,
      );
    }
    throw new BrokerListenError(
      `cannot listen on 127.0.0.1:${port} (${(e as Error).message})`,
    );
  }
}

/** Listener callbacks of a {@link BrokerSession}; all optional. */
export interface BrokerHandlers {
  /** Every agent event (state changes, conversation items, tool calls, ...). */
  onEvent?: (ev: pb.AgentSessionEvent) => void;
  /** Agent audio arrived (already queued on the playout). */
  onAudio?: (samples: Int16Array) => void;
  /** A flush was acknowledged (`played`) or dropped by a clear. */
  onFlush?: (played: boolean) => void;
  /** The agent cleared its buffer (it was interrupted). */
  onClear?: () => void;
}

/** Counters kept by a {@link BrokerSession}, for the summary and for tests. */
export interface BrokerStats {
  messagesIn: number;
  audioFramesIn: number;
  flushes: number;
  acks: number;
  clears: number;
  micFramesOut: number;
}

/**
 * One agent connection. Owns the socket; the playout decides when a flush
 * has played. Closing the socket does not stop the agent process (agents-js
 * keeps running until signalled), so the caller owns the process lifetime.
 */
export class BrokerSession {
  readonly stats: BrokerStats = {
    messagesIn: 0,
    audioFramesIn: 0,
    flushes: 0,
    acks: 0,
    clears: 0,
    micFramesOut: 0,
  };
  /** Resolves on the first message from the agent (mic frames must wait for it). */
  readonly firstMessage: Promise<void>;
  /** Why the session broke, when it was not a plain close (e.g. an oversized frame). */
  closeError?: string;
  /** Resolves when the socket is closed by either side; never rejects. */
  readonly closed: Promise<void>;

  readonly #conn: Deno.Conn;
  readonly #playout: Playout;
  readonly #handlers: BrokerHandlers;
  readonly #pending = new Map<string, {
    resolve: (r: pb.SessionResponse) => void;
    reject: (e: Error) => void;
  }>();
  #resolveFirst!: () => void;
  #writeChain: Promise<void> = Promise.resolve();
  #ackChain: Promise<void> = Promise.resolve();
  // Bumped by every clear: acks of flushes issued before it must not be sent,
  // else a stale ack would end the agent's *next* playout handshake early.
  #generation = 0;
  #isClosed = false;
  #nextId = 1;

  constructor(conn: Deno.Conn, playout: Playout, handlers: BrokerHandlers = {}) {
    this.#conn = conn;
    this.#playout = playout;
    this.#handlers = handlers;
    this.firstMessage = new Promise((r) => this.#resolveFirst = r);
    this.closed = this.#readLoop();
  }

  /** True once the socket is gone. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder();
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        for (const msg of decoder.pushMessages(buf.subarray(0, n))) this.#dispatch(msg);
      }
    } catch (e) {
      // A reset or a frame error ends the session like an EOF would; anything
      // else is a bug worth surfacing.
      // A reset is how a dying agent looks; anything else is worth a line.
      if (
        !(e instanceof Deno.errors.ConnectionReset) &&
        !(e instanceof Deno.errors.BadResource) &&
        !(e instanceof Deno.errors.Interrupted)
      ) {
        this.closeError = (e as Error).message;
      }
    } finally {
      this.#shutdown();
    }
  }

  #dispatch(msg: pb.AgentSessionMessage): void {
    this.stats.messagesIn++;
    if (this.stats.messagesIn === 1) this.#resolveFirst();
    const m = msg.message;
    switch (m.case) {
      case "audioOutput": {
        this.stats.audioFramesIn++;
        const samples = frameToMono48k(m.value);
        this.#playout.write(samples);
        this.#handlers.onAudio?.(samples);
        break;
      }
      case "audioPlaybackFlush": {
        this.stats.flushes++;
        const gen = this.#generation;
        const drained = this.#playout.drain();
        // Acks go out in flush order.
        this.#ackChain = this.#ackChain.then(async () => {
          const played = await drained;
          if (played && gen === this.#generation && !this.#isClosed) {
            this.stats.acks++;
            await this.send({
              case: "audioPlaybackFinished",
              value: new pb.AgentSessionMessage_ConsoleIO_AudioPlaybackFinished(),
            });
          }
          this.#handlers.onFlush?.(played && gen === this.#generation);
        });
        break;
      }
      case "audioPlaybackClear":
        this.stats.clears++;
        this.#generation++;
        this.#playout.clear();
        this.#handlers.onClear?.();
        break;
      case "event":
        this.#handlers.onEvent?.(m.value);
        break;
      case "response": {
        const p = this.#pending.get(m.value.requestId);
        if (p) {
          this.#pending.delete(m.value.requestId);
          p.resolve(m.value);
        }
        break;
      }
      default:
        break; // broker->agent messages echoed back, or future additions
    }
  }

  /** Sends one message; writes are serialized so frames never interleave. */
  send(message: pb.AgentSessionMessage["message"]): Promise<void> {
    const bytes = encodeMessage(new pb.AgentSessionMessage({ message }));
    const next = this.#writeChain.then(async () => {
      if (this.#isClosed) return;
      try {
        let off = 0;
        while (off < bytes.byteLength) off += await this.#conn.write(bytes.subarray(off));
      } catch {
        this.#shutdown();
      }
    });
    this.#writeChain = next;
    return next;
  }

  /**
   * Sends a request and waits for the response with the same id. Rejects on
   * timeout, on socket close, and when the agent answers with an error.
   */
  request(
    request: pb.SessionRequest["request"],
    timeoutMs = 60_000,
  ): Promise<pb.SessionResponse> {
    if (this.#isClosed) return Promise.reject(new Error("the agent session is closed"));
    const requestId = `req_${this.#nextId++}`;
    return new Promise<pb.SessionResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(new Error(`request ${request.case} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(requestId, {
        resolve: (r) => {
          clearTimeout(timer);
          if (r.error) reject(new Error(r.error));
          else resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      void this.send({ case: "request", value: new pb.SessionRequest({ requestId, request }) });
    });
  }

  /** Text in, audio/transcription out as requested (see `update_io` in the wire doc). */
  updateIo(io: { audioIn: boolean; audioOut: boolean; transcription?: boolean }) {
    return this.request({
      case: "updateIo",
      value: new pb.SessionRequest_UpdateIO({
        input: new pb.SessionRequest_UpdateIO_Input({ audioEnabled: io.audioIn }),
        output: new pb.SessionRequest_UpdateIO_Output({
          audioEnabled: io.audioOut,
          transcriptionEnabled: io.transcription ?? false,
        }),
      }),
    }, 10_000);
  }

  /** Runs one typed user turn; resolves after the agent's reply has played. */
  runInput(text: string, timeoutMs = 120_000): Promise<pb.SessionResponse> {
    return this.request(
      { case: "runInput", value: new pb.SessionRequest_RunInput({ text }) },
      timeoutMs,
    );
  }

  /** Sends one microphone frame (mono 16-bit at 48 kHz). */
  sendMic(samples: Int16Array): Promise<void> {
    this.stats.micFramesOut++;
    return this.send({
      case: "audioInput",
      value: new pb.AgentSessionMessage_ConsoleIO_AudioFrame({
        data: new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength),
        sampleRate: WIRE_SAMPLE_RATE,
        numChannels: 1,
        samplesPerChannel: samples.length,
      }),
    });
  }

  /** Closes the socket (the agent keeps running: stop its process separately). */
  close(): Promise<void> {
    this.#shutdown();
    return this.closed;
  }

  #shutdown(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const p of this.#pending.values()) p.reject(new Error("the agent session is closed"));
    this.#pending.clear();
    this.#resolveFirst();
  }
}

/** Converts a wire frame to mono 16-bit at 48 kHz (copying: protobuf bytes may be unaligned). */
export function frameToMono48k(frame: pb.AgentSessionMessage_ConsoleIO_AudioFrame): Int16Array {
  const bytes = frame.data;
  const aligned = new Int16Array(Math.floor(bytes.byteLength / 2));
  new Uint8Array(aligned.buffer).set(bytes.subarray(0, aligned.byteLength));
  const ch = Math.max(1, frame.numChannels);
  let mono = aligned;
  if (ch > 1) {
    mono = new Int16Array(Math.floor(aligned.length / ch));
    for (let i = 0; i < mono.length; i++) {
      let acc = 0;
      for (let c = 0; c < ch; c++) acc += aligned[i * ch + c];
      mono[i] = Math.round(acc / ch);
    }
  }
  const rate = frame.sampleRate || WIRE_SAMPLE_RATE;
  if (rate === WIRE_SAMPLE_RATE) return mono;
  // agents-js always sends 48 kHz today; resample defensively if that changes.
  const out = new Int16Array(Math.round(mono.length * WIRE_SAMPLE_RATE / rate));
  for (let i = 0; i < out.length; i++) {
    out[i] = mono[Math.min(mono.length - 1, Math.floor(i * rate / WIRE_SAMPLE_RATE))];
  }
  return out;
}
