/**
 * Preflight of the LiveKit worker endpoint: open the same websocket agents-js will open
 * (`<url>/agent`, Bearer worker token, `worker_token` query when set), classify a failure, log it
 * as one readable line with the URL and the cause, retry with back-off, and give up clearly.
 *
 * Why: agents-js 1.9.0 retries for ~80 s, retries even a rejected key (401), logs the cause only
 * inside a structured error object, and its CLI ends with "closing worker due to error" without
 * the cause. The probe socket is closed as soon as it opens; the server drops a worker that never
 * registered.
 * @module
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import WebSocket from "ws";
import { workerToken } from "./token.ts";
import { redactUrl } from "../core/redact.ts";

/** Why one connection attempt failed. */
export interface ProbeFailure {
  kind: "refused" | "dns" | "auth" | "not_found" | "timeout" | "tls" | "http" | "network";
  /** Retrying cannot help (wrong credentials or wrong URL). */
  permanent: boolean;
  /** Human-readable cause, e.g. "connection refused (nothing listens on 127.0.0.1:7880)". */
  cause: string;
}

/** Options of {@link probeWorkerEndpoint}. */
export interface ProbeOptions {
  /** Normalised websocket base URL (ending in "/"). */
  url: string;
  apiKey: string;
  apiSecret: string;
  workerToken?: string;
  /** Bound on one attempt (TCP + TLS + HTTP upgrade). */
  timeoutMs?: number;
}

/** The URL agents-js connects its worker socket to. */
export function workerEndpoint(url: string, token?: string): URL {
  const endpoint = new URL("agent", url);
  if (token) endpoint.searchParams.set("worker_token", token);
  return endpoint;
}

/** One attempt: resolves `undefined` when the websocket opened, else why it did not. */
export async function probeWorkerEndpoint(opts: ProbeOptions): Promise<ProbeFailure | undefined> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const endpoint = workerEndpoint(opts.url, opts.workerToken);
  const jwt = await workerToken(opts.apiKey, opts.apiSecret);
  return await new Promise<ProbeFailure | undefined>((resolve) => {
    let settled = false;
    let bodyTimer: ReturnType<typeof setTimeout> | undefined;
    const ws = new WebSocket(endpoint, {
      headers: { authorization: `Bearer ${jwt}` },
      handshakeTimeout: timeoutMs,
    });
    const finish = (result: ProbeFailure | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(bodyTimer);
      ws.removeAllListeners();
      // Swallow late errors from the socket being torn down.
      ws.on("error", () => {});
      ws.terminate();
      resolve(result);
    };
    // Covers a silent host (no RST, no answer), which the handshake timeout may not.
    const timer = setTimeout(
      () =>
        finish({ kind: "timeout", permanent: false, cause: `no answer within ${timeoutMs} ms` }),
      timeoutMs + 500,
    );
    ws.on("open", () => {
      ws.close(1000, "preflight");
      finish(undefined);
    });
    ws.on("unexpected-response", (_req: ClientRequest, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 300) body += chunk;
      });
      const done = () => finish(httpFailure(status, body.trim().slice(0, 200)));
      res.on("end", done);
      res.on("error", done);
      // A body that never ends must not hold the attempt open.
      bodyTimer = setTimeout(done, 1_000);
    });
    ws.on("error", (error: Error & { code?: string }) => finish(networkFailure(error, endpoint)));
  });
}

function httpFailure(status: number, body: string): ProbeFailure {
  const detail = `HTTP ${status}${body ? `: ${body}` : ""}`;
  if (status === 401 || status === 403) {
    return { kind: "auth", permanent: true, cause: `credentials rejected (${detail})` };
  }
  if (status === 404) {
    return {
      kind: "not_found",
      permanent: true,
      cause: `no LiveKit worker endpoint at this URL (${detail})`,
    };
  }
  // 5xx and the rest: a server restarting or overloaded may recover.
  return { kind: "http", permanent: status >= 400 && status < 500, cause: detail };
}

function networkFailure(error: Error & { code?: string }, endpoint: URL): ProbeFailure {
  const code = error.code ?? "";
  const where = `${endpoint.hostname}:${
    endpoint.port || (endpoint.protocol === "wss:" ? 443 : 80)
  }`;
  if (code === "ECONNREFUSED") {
    return {
      kind: "refused",
      permanent: false,
      cause: `connection refused (nothing listens on ${where})`,
    };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return {
      kind: "dns",
      permanent: false,
      cause: `DNS lookup of "${endpoint.hostname}" failed (${code})`,
    };
  }
  if (code === "ETIMEDOUT" || /timed out/i.test(error.message)) {
    return { kind: "timeout", permanent: false, cause: `no answer from ${where} (timed out)` };
  }
  if (/CERT|SSL|TLS/i.test(code) || /certificate|ssl|tls/i.test(error.message)) {
    return { kind: "tls", permanent: false, cause: `TLS failure: ${error.message}` };
  }
  return {
    kind: "network",
    permanent: false,
    cause: `${code ? `${code}: ` : ""}${error.message}`,
  };
}

/** The worker could not reach or was refused by the server; `message` is the final log line. */
export class ConnectFailure extends Error {
  /** Classified cause of the last attempt. */
  readonly failure: ProbeFailure;
  constructor(message: string, failure: ProbeFailure) {
    super(message);
    this.name = "ConnectFailure";
    this.failure = failure;
  }
}

/** Minimal logger surface (pino's) used here, so tests can pass a recorder. */
export interface LineLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Delay before retry `n` (1-based): 1, 2, 4, 8, then 10 s. */
export function retryDelayMs(n: number): number {
  return Math.min(2 ** (n - 1), 10) * 1000;
}

/** How long `maxRetry` retries wait in all, between attempts. */
export function retryWindowMs(maxRetry: number): number {
  let ms = 0;
  for (let n = 1; n <= maxRetry; n++) ms += retryDelayMs(n);
  return ms;
}

/**
 * The first failure, said so that a mistyped URL is seen at once: what was tried, why it failed,
 * the first retry, how long the worker will keep trying in all, and how to change that.
 */
export function firstFailureLine(
  shownUrl: string,
  tried: string,
  failure: ProbeFailure,
  maxRetry: number,
): string {
  const head = `cannot connect to LiveKit server at ${shownUrl}: tried ${tried}: ${failure.cause}`;
  const all = `${maxRetry} ${maxRetry === 1 ? "retry" : "retries"} over ${
    Math.round(retryWindowMs(maxRetry) / 1000)
  } s in all, then exit 1`;
  return `${head}; retry 1 of ${maxRetry} in ${retryDelayMs(1) / 1000} s, ${all} ` +
    "(--max-retry or MAX_RETRY sets how many; check LIVEKIT_URL if it is mistyped)";
}

/**
 * Probes until the endpoint accepts the worker's websocket, or gives up.
 * Each failure is one warn line: URL, cause, next retry. `maxRetry` retries follow the first
 * attempt; a permanent failure (401/403/404) is not retried.
 * @throws {ConnectFailure} with the final line to log.
 * @throws {DOMException} AbortError when `signal` aborts (the worker is shutting down).
 */
export async function preflight(
  opts: ProbeOptions & {
    maxRetry: number;
    logger: LineLogger;
    signal?: AbortSignal;
    /** Also gets the first failure's line (JSON logs: a plain line on stderr for a person). */
    firstFailure?: (line: string) => void;
  },
): Promise<void> {
  // Validated bare by options.ts; redacted anyway, so no later change can leak a secret here.
  const shown = redactUrl(opts.url);
  const tried = redactUrl(workerEndpoint(opts.url).href);
  for (let attempt = 1;; attempt++) {
    opts.signal?.throwIfAborted();
    const failure = await probeWorkerEndpoint(opts);
    opts.signal?.throwIfAborted();
    if (!failure) {
      if (attempt > 1) opts.logger.info(`LiveKit server at ${shown} is reachable again`);
      return;
    }
    if (failure.kind === "auth") {
      throw new ConnectFailure(
        `LiveKit server at ${shown} rejected the worker: ${failure.cause}; check LIVEKIT_API_KEY and LIVEKIT_API_SECRET (and the clock, tokens are time-bound)`,
        failure,
      );
    }
    if (failure.permanent) {
      throw new ConnectFailure(
        `LiveKit server at ${shown} refused the worker: ${failure.cause}; check LIVEKIT_URL`,
        failure,
      );
    }
    if (attempt > opts.maxRetry) {
      throw new ConnectFailure(
        `giving up on LiveKit server at ${shown} after ${attempt} attempts: ${failure.cause}; check that it is running and that LIVEKIT_URL is right`,
        failure,
      );
    }
    const delay = retryDelayMs(attempt);
    if (attempt === 1) {
      const line = firstFailureLine(shown, tried, failure, opts.maxRetry);
      opts.logger.warn(line);
      opts.firstFailure?.(line);
    } else {
      opts.logger.warn(
        `cannot connect to LiveKit server at ${shown}: ${failure.cause}; retry ${attempt} of ${opts.maxRetry} in ${
          delay / 1000
        } s`,
      );
    }
    await abortableDelay(delay, opts.signal);
  }
}

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
