/**
 * One line that says why a model failed, for the log and the console.
 *
 * The Inference plugins report a failed request with the SDK's generic words
 * ("Connection error.", "Error connecting to LiveKit WebSocket") and drop the
 * cause, so an operator cannot tell a gateway that is down from a wrong URL.
 * {@link explainModelError} adds what is known: the HTTP status when there is
 * one, the gateway URL (secrets redacted), and, for a connection failure, what
 * one bounded TCP connect to the gateway says ("connection refused", "host not
 * found", ...).
 *
 * @module
 */
import { GATEWAY_PROBE_TIMEOUT_MS } from "./bounds.ts";
import { redactUrl } from "./redact.ts";

/** Which model failed, as the session's error types name them. */
export type ModelKind = "llm" | "stt" | "tts";

const NAMES: Record<ModelKind, string> = { llm: "LLM", stt: "STT", tts: "TTS" };

/** The display name of a model kind (`LLM`, `STT`, `TTS`). */
export function modelName(kind: ModelKind): string {
  return NAMES[kind];
}

/** The plugin's own words for `error`, with its HTTP status when it has one. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { statusCode?: unknown }).statusCode;
  const message = error.message.trim().replace(/\s+/g, " ") || error.name;
  return typeof status === "number" && status > 0 && !message.includes(String(status))
    ? `${message} (HTTP ${status})`
    : message;
}

/**
 * True for an error that says the request never got an answer (no HTTP
 * status): the case where probing the gateway tells the operator more.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === "number" && status > 0) return false;
  if (error.name === "LlmStallError") return false; // the gateway answered, then went quiet
  return error.name === "APIConnectionError" || error.name === "APITimeoutError" ||
    /connect|connection|timed out|timeout/i.test(error.message);
}

/**
 * Opens (and closes) one TCP connection to the gateway's host and port, at
 * most `timeoutMs`, and says what happened in a few words.
 */
export async function probeGateway(
  url: string,
  timeoutMs: number = GATEWAY_PROBE_TIMEOUT_MS,
): Promise<string> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return "not a valid URL";
  }
  const hostname = target.hostname.replace(/^\[|\]$/g, "");
  const port = Number(target.port) || (target.protocol === "https:" ? 443 : 80);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const conn = await Deno.connect({ hostname, port, signal: abort.signal });
    conn.close();
    return "it accepts connections";
  } catch (error) {
    if (abort.signal.aborted) return `no answer within ${timeoutMs} ms`;
    if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
    if (error instanceof Deno.errors.NotFound || /lookup|resolve|dns/i.test(String(error))) {
      return "host not found";
    }
    if (error instanceof Deno.errors.PermissionDenied) return "not allowed to connect";
    return String((error as Error).message ?? error).split("\n")[0];
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `the LLM failed: Connection error. (gateway http://127.0.0.1:1234/v1:
 * connection refused)`: the model, the plugin's words, the gateway, and for a
 * connection failure the probe's answer. One line, no secrets.
 */
export async function explainModelError(
  kind: ModelKind,
  error: unknown,
  gatewayUrl?: string,
): Promise<string> {
  const base = `the ${modelName(kind)} failed: ${errorMessage(error)}`;
  if (!gatewayUrl) return base;
  const shown = redactUrl(gatewayUrl);
  if (!isConnectionFailure(error)) return `${base} (gateway ${shown})`;
  return `${base} (gateway ${shown}: ${await probeGateway(gatewayUrl)})`;
}
