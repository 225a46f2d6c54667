/**
 * Shared helpers for the gateway's tests: credentials, real-plugin constructors and bounded
 * waiting. Not part of the gateway's public API.
 *
 * @module
 */

import { inference, initializeLogger, llm } from "@livekit/agents";
import type { Gateway, GatewayEvent } from "../simulation/mod.ts";

/** Key pair the tests configure on both sides. */
export const KEY = "devkey";
/** Long enough for any HMAC policy. */
export const SECRET = "devsecret-which-is-long-enough-0123456789";

let loggerReady = false;
/** The plugins log through agents' logger, which throws until initialized. */
export function initLogger(): void {
  if (loggerReady) return;
  // "fatal": the fault tests provoke error logs on purpose; they would only be noise here.
  initializeLogger({ pretty: false, level: "fatal" });
  loggerReady = true;
}

/** Connection options for fault tests: no retries, short timeouts. */
export const NO_RETRY = { maxRetry: 0, retryIntervalMs: 1, timeoutMs: 2_000 };

/** A real `inference.LLM` pointed at `gw`. */
export function makeLlm(gw: Gateway, secret = SECRET): inference.LLM {
  initLogger();
  return new inference.LLM({
    model: "openai/gpt-4.1-mini",
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: secret,
  });
}

/** A tool context offering `end_session`, like the Exit Message agent. */
export function endSessionTools(): llm.ToolContext {
  return new llm.ToolContext([
    llm.tool({
      name: "end_session",
      description: "End the session when the user wants to stop talking.",
      execute: () => Promise.resolve("ended"),
    }),
  ]);
}

/** A chat context with one user message. */
export function userSays(text: string): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  ctx.addMessage({ role: "system", content: "You are a helpful assistant." });
  ctx.addMessage({ role: "user", content: text });
  return ctx;
}

/** Rejects after `ms` with `what`, clearing its timer when `p` settles first. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the first `error` event an emitter (LLM/STT/TTS) emits, bounded by `ms`. */
export function nextError(
  emitter: { once(event: "error", cb: (e: { error: Error }) => void): unknown },
  ms: number,
  what: string,
): Promise<Error> {
  return within(
    new Promise<Error>((resolve) => emitter.once("error", (e) => resolve(e.error))),
    ms,
    what,
  );
}

/** Logged events of one kind, typed. */
export function logged<K extends GatewayEvent["kind"]>(
  gw: Gateway,
  kind: K,
): Extract<GatewayEvent, { kind: K }>[] {
  return gw.log.filter((e): e is Extract<GatewayEvent, { kind: K }> => e.kind === kind);
}

/** The first logged event of one kind; throws when there is none. */
export function first<K extends GatewayEvent["kind"]>(
  gw: Gateway,
  kind: K,
): Extract<GatewayEvent, { kind: K }> {
  const e = logged(gw, kind)[0];
  if (!e) throw new Error(`no ${kind} event in the gateway log`);
  return e;
}

/** `statusCode` of an `APIStatusError` (after the caller asserted the class). */
export function statusOf(e: Error): number {
  return (e as Error & { statusCode: number }).statusCode;
}
