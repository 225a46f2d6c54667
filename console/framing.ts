/**
 * Wire framing of the console protocol (the broker half of agents-js
 * `TcpSessionTransport`): `[u32 big-endian length][protobuf AgentSessionMessage]`,
 * both directions, 1 MiB max payload, no handshake and no close message.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";

/** Largest payload either side accepts (agents-js closes the transport above it). */
export const MAX_FRAME_BYTES = 1 << 20;

/** Size of the big-endian length prefix. */
export const HEADER_BYTES = 4;

/** Raised when the peer sends a frame larger than {@link MAX_FRAME_BYTES}. */
export class FrameTooLargeError extends Error {
  constructor(readonly length: number) {
    super(`console frame of ${length} bytes exceeds the 1 MiB limit`);
    this.name = "FrameTooLargeError";
  }
}

/** Encodes one already-serialized payload into a length-prefixed frame. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength > MAX_FRAME_BYTES) throw new FrameTooLargeError(payload.byteLength);
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength, false);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Serializes and frames one {@link pb.AgentSessionMessage}. */
export function encodeMessage(msg: pb.AgentSessionMessage): Uint8Array {
  return encodeFrame(msg.toBinary());
}

/**
 * Incremental decoder: feed it whatever chunks the socket yields, get back
 * the complete payloads. TCP gives no message boundaries, so a frame may be
 * split over reads or several frames may share one read.
 */
export class FrameDecoder {
  #buf: Uint8Array = new Uint8Array(0);

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.#buf.byteLength;
  }

  /** Appends a chunk and returns every payload it completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#buf.byteLength === 0) {
      this.#buf = chunk;
    } else {
      const joined = new Uint8Array(this.#buf.byteLength + chunk.byteLength);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.byteLength);
      this.#buf = joined;
    }
    const out: Uint8Array[] = [];
    let off = 0;
    while (this.#buf.byteLength - off >= HEADER_BYTES) {
      const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + off, HEADER_BYTES);
      const len = view.getUint32(0, false);
      if (len > MAX_FRAME_BYTES) throw new FrameTooLargeError(len);
      if (this.#buf.byteLength - off - HEADER_BYTES < len) break;
      // Copy so callers may keep the payload after the buffer is reused.
      out.push(this.#buf.slice(off + HEADER_BYTES, off + HEADER_BYTES + len));
      off += HEADER_BYTES + len;
    }
    // Keep the remainder in memory we own: callers reuse their read buffer.
    this.#buf = off === 0 && this.#buf !== chunk ? this.#buf : this.#buf.slice(off);
    return out;
  }

  /** Like {@link push}, and parses each payload as an {@link pb.AgentSessionMessage}. */
  pushMessages(chunk: Uint8Array): pb.AgentSessionMessage[] {
    return this.push(chunk).map((p) => pb.AgentSessionMessage.fromBinary(p));
  }
}
