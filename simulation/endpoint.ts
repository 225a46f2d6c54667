/**
 * What the gateway hands each endpoint (`llm.ts`, `stt.ts`, `tts.ts`, `eot.ts`): its event log,
 * its fault and latency switches, its lifetime, and the websocket and HTTP helpers they share.
 *
 * @module
 */
import type { FaultTarget, GatewayFaults, GatewayLatency, NewGatewayEvent } from "./events.ts";

/** The gateway, as an endpoint sees it. */
export interface Endpoint {
  /** Live fault switches (a test may change them at any time). */
  readonly faults: GatewayFaults;
  /** Resolved synthetic latencies. */
  readonly latency: Readonly<Required<GatewayLatency>>;
  /** Aborted when the gateway closes: every pump, timer and wait ends with it. */
  readonly lifetime: AbortSignal;
  /** A fresh number for a session or request id, unique in this gateway. */
  nextId(): number;
  /** Appends to the ordered event log. */
  emit(e: NewGatewayEvent): void;
  /** Logs that a fault fired, and clears it when the faults are `once`. */
  fired(target: FaultTarget, fault: string, detail?: string): void;
  /** Accepts a websocket upgrade the gateway tracks until it closes, or answers 426. */
  upgrade(req: Request): { socket: WebSocket; response: Response } | Response;
}

/** A JSON response with the given status. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Sends `msg` as JSON when the socket is open; false when the peer is gone. */
export function sendJson(socket: WebSocket, msg: Record<string, unknown>): boolean {
  if (socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(msg));
  return true;
}

/** A client message as parsed JSON: the clients' fields are read loosely, as a lenient gateway would. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** Parses a websocket message as JSON; undefined when it is not JSON. */
export function parseMessage(data: unknown): Json {
  try {
    return JSON.parse(
      typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer),
    );
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`, or at once (false) when `signal` aborts; never leaves a timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Base64 of raw bytes (audio in the gateway's JSON messages). */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(bin);
}

/** 16-bit little-endian PCM from base64. */
export function base64ToInt16(b64: string): Int16Array {
  const bin = atob(b64);
  const n = bin.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    out[i] = v > 0x7fff ? v - 0x10000 : v;
  }
  return out;
}

/** 16-bit PCM as little-endian bytes. */
export function int16ToLeBytes(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(2 * i, pcm[i], true);
  return out;
}
