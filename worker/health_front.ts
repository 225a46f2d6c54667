/**
 * The worker's health port with `GET /metrics` on it.
 *
 * agents-js 1.9.0 binds the health port itself (`HTTPServer` in its http_server.ts: `/` and
 * `/worker`, 404 for anything else) and keeps that server in a private field of `AgentServer`,
 * with no way to add a route. So with metrics on, this process binds the operator's health port,
 * answers `/metrics` itself, and passes every other request to agents-js's own server, which it
 * moved to a loopback port nobody else uses: `/` and `/worker` keep agents-js's exact answers
 * (200 only when connected to LiveKit and the inference process is alive). Until agents-js's
 * server listens (it starts after the inference process initialised), `/` answers 503.
 *
 * agents-js still logs "Server is listening on port N" with its loopback port; the health port
 * operators use is the one this module logs.
 * @module
 */

/** Options of {@link serveHealthFront}. */
export interface HealthFrontOptions {
  /** Address and port operators use (`HEALTH_HOST`, `HEALTH_PORT`; 0 picks a free port). */
  host: string;
  port: number;
  /** agents-js's health server, on loopback. */
  upstreamPort: number;
  /** The metrics text and its content type. */
  metrics: () => Promise<{ text: string; contentType: string }>;
}

/** The running front server. */
export interface HealthFront {
  /** The port it listens on (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Binds the health port now (throws `Deno.errors.AddrInUse` and the like at once) and serves it.
 */
export function serveHealthFront(opts: HealthFrontOptions): HealthFront {
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: opts.host,
    port: opts.port,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/metrics") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed\n", { status: 405 });
      }
      try {
        const { text, contentType } = await opts.metrics();
        return new Response(text, { headers: { "content-type": contentType } });
      } catch (error) {
        return new Response(`metrics unavailable: ${error}\n`, { status: 500 });
      }
    }
    return await proxy(req, url, opts.upstreamPort);
  });
  const addr = server.addr as Deno.NetAddr;
  return {
    port: addr.port,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

async function proxy(req: Request, url: URL, upstreamPort: number): Promise<Response> {
  try {
    const res = await fetch(`http://127.0.0.1:${upstreamPort}${url.pathname}${url.search}`, {
      method: req.method,
      signal: AbortSignal.timeout(5_000),
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  } catch {
    // agents-js's server is not listening yet (the worker is starting) or no longer (stopping).
    return new Response("worker not running\n", { status: 503 });
  }
}
