/**
 * A failover TCP proxy on loopback: the stand-in for the load balancer (or DNS name) that fronts
 * the nodes of a LiveKit cluster in production. Each new connection goes to the first node that
 * accepts it, in order; a node that is down is skipped. Workers given its URL as `LIVEKIT_URL`
 * reach whichever node is up, as they would behind a real load balancer.
 *
 * @module
 */

/** A running proxy; `close()` ends the listener and every connection through it. */
export class TcpProxy {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Where each connection went (`127.0.0.1:PORT` of the node), in order. */
  readonly routed: string[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #targets: () => number[];
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, targets: () => number[]) {
    this.#listener = listener;
    this.#targets = targets;
    this.port = listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** Listens on a free loopback port; `targets()` gives the nodes' ports, in order of preference. */
  static start(targets: () => number[]): TcpProxy {
    return new TcpProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), targets);
  }

  /** `ws://127.0.0.1:PORT`: the cluster's URL for workers and callers. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        this.#conns.add(client);
        const pipe = this.#serve(client).finally(() => this.#pipes.delete(pipe));
        this.#pipes.add(pipe);
      }
    } catch {
      // the listener was closed
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn | undefined;
    for (const port of this.#targets()) {
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
        this.routed.push(`127.0.0.1:${port}`);
        break;
      } catch {
        // that node is down: the next one
      }
    }
    if (!upstream) {
      this.#end(client);
      return;
    }
    this.#conns.add(upstream);
    const up = upstream;
    // Either side closing or failing ends both, as a load balancer drops a connection whose
    // backend went away.
    await Promise.race([
      client.readable.pipeTo(up.writable).catch(() => {}),
      up.readable.pipeTo(client.writable).catch(() => {}),
    ]);
    this.#end(client);
    this.#end(up);
  }

  #end(conn: Deno.TcpConn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // already closed by its pipe
    }
  }

  /** Stops listening and ends every connection through the proxy. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const conn of [...this.#conns]) this.#end(conn);
    await Promise.allSettled([...this.#pipes]);
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
