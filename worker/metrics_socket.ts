/**
 * The main process's end of the job processes' metrics channel (`core/call_metrics.ts`): a unix
 * socket in a private directory (mode 0700) whose path the job processes inherit through
 * {@link METRICS_DIR_ENV}. Each job process connects once, says its pid, then sends one JSON line
 * per event; when its connection closes (the process exited), its recorded exit status is read
 * from the same directory.
 * @module
 */
import {
  type CallEvent,
  type Hello,
  METRICS_DIR_ENV,
  METRICS_SOCKET_NAME,
} from "../core/call_metrics.ts";
import { TextLineStream } from "@std/streams";
import type { WorkerMetrics } from "./metrics.ts";

export { METRICS_DIR_ENV };

/** The listening socket and its directory. */
export class MetricsSocket {
  /** The private directory (socket and exit records). */
  readonly dir: string;
  readonly #listener: Deno.Listener;
  readonly #metrics: WorkerMetrics;
  readonly #conns = new Set<Deno.Conn>();
  readonly #served: Promise<void>;
  readonly #handlers = new Set<Promise<void>>();

  private constructor(dir: string, listener: Deno.Listener, metrics: WorkerMetrics) {
    this.dir = dir;
    this.#listener = listener;
    this.#metrics = metrics;
    this.#served = this.#accept();
  }

  /** Creates the directory and starts listening. */
  static async open(metrics: WorkerMetrics): Promise<MetricsSocket> {
    const dir = await Deno.makeTempDir({ prefix: "exit-message-metrics-" });
    await Deno.chmod(dir, 0o700);
    const listener = Deno.listen({ transport: "unix", path: `${dir}/${METRICS_SOCKET_NAME}` });
    return new MetricsSocket(dir, listener, metrics);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        const handler = this.#serve(conn).finally(() => {
          this.#conns.delete(conn);
          this.#handlers.delete(handler);
        });
        this.#handlers.add(handler);
      }
    } catch {
      // closed
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let pid: number | undefined;
    // A call host runs several calls over one channel.
    let openCalls = 0;
    try {
      const lines = conn.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
        // typed here: the npm build of std ships no declarations
        new TextLineStream() as TransformStream<string, string>,
      );
      for await (const line of lines) {
        let event: CallEvent | Hello;
        try {
          event = JSON.parse(line);
        } catch {
          continue; // a line cut by the process's end
        }
        if (event.kind === "hello") pid = event.pid;
        if (event.kind === "call_started") openCalls++;
        if (event.kind === "call_ended") openCalls = Math.max(0, openCalls - 1);
        this.#metrics.record(event);
      }
    } catch {
      // the process went away mid-write
    }
    if (pid === undefined) return;
    this.#metrics.processGone(openCalls, this.#exitStatus(pid));
  }

  #exitStatus(pid: number): number | undefined {
    const path = `${this.dir}/${pid}.exit`;
    try {
      const code = Number(Deno.readTextFileSync(path));
      Deno.removeSync(path);
      return Number.isInteger(code) ? code : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops listening, closes open channels, removes the directory. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#served;
    await Promise.allSettled([...this.#handlers]);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
