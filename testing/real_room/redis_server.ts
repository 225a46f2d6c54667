/**
 * A Redis for a multi-node LiveKit cluster in tests and benchmarks: Debian's `redis-server`, started
 * on a free loopback port with nothing kept on disk, checked with `PING`, ended by PID.
 *
 * Two livekit-server nodes form one cluster by sharing a Redis (`redis.address` in each node's
 * config): rooms, participants' routing and agent dispatch go through it.
 *
 * @module
 */
import { textLines } from "../lines.ts";
import { findExecutable } from "./sandbox.ts";
import { freeTcpPort } from "./livekit_server.ts";
import { bounded, until } from "../wait.ts";

/** How to get Redis where there is none (the tests start it themselves). */
export const REDIS_INSTALL_HINT = "install Redis (Debian: `apt-get install -y redis-server`)";

/** The `redis-server` binary, or why there is none and what fixes it. */
export function findRedis(): { path: string } | { problem: string } {
  const path = findExecutable("redis-server");
  return path ? { path } : { problem: `no redis-server on PATH: ${REDIS_INSTALL_HINT}` };
}

/** Sends `PING` to `port` on 127.0.0.1 and resolves true on `+PONG`. */
async function ping(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await bounded(conn.read(buf), 2_000, () => "no answer to PING");
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** One complete RESP reply in `text`, or `undefined` while it is incomplete. */
function parseReply(text: string): string | number | null | undefined {
  const eol = text.indexOf("\r\n");
  if (eol < 0) return undefined;
  const head = text.slice(1, eol);
  switch (text[0]) {
    case "+":
      return head;
    case ":":
      return Number(head);
    case "-":
      throw new Error(`redis: ${head}`);
    case "$": {
      const len = Number(head);
      if (len < 0) return null;
      const body = text.slice(eol + 2);
      // Redis counts bytes; these replies are ASCII (names and IDs).
      return body.length >= len + 2 ? body.slice(0, len) : undefined;
    }
    default:
      throw new Error(`redis: unexpected reply ${JSON.stringify(text.slice(0, 40))}`);
  }
}

/** A running `redis-server` on 127.0.0.1. */
export class RedisServer {
  /** `127.0.0.1:PORT`: what a livekit-server node's `redis.address` takes. */
  readonly address: string;
  /** Its output lines (Redis logs to stdout). */
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;

  private constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.address = `127.0.0.1:${port}`;
    this.#pump = (async () => {
      for await (const line of textLines(child.stdout)) this.lines.push(line);
    })();
  }

  /** Starts Redis on a free loopback port (no persistence) and resolves once it answers `PING`. */
  static async start(): Promise<RedisServer> {
    const found = findRedis();
    if ("problem" in found) throw new Error(found.problem);
    const port = freeTcpPort();
    const child = new Deno.Command(found.path, {
      // Loopback only, nothing written to disk, no config file of the machine's.
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const redis = new RedisServer(child, port);
    try {
      const exited = child.status.then((s) => {
        throw new Error(`redis-server exited (${s.code}):\n${redis.lines.slice(-5).join("\n")}`);
      });
      exited.catch(() => {});
      await Promise.race([
        until(async () => (await ping(port)) || undefined, 10_000, `redis-server on port ${port}`),
        exited,
      ]);
    } catch (error) {
      await redis.stop();
      throw error;
    }
    return redis;
  }

  /**
   * Runs one command and returns its reply: a string (simple or bulk), a number, or `null`
   * (e.g. `HGET room_node_map ROOM`: the node hosting a room). Enough RESP for a test to look.
   */
  async command(...args: string[]): Promise<string | number | null> {
    const port = Number(this.address.split(":")[1]);
    const enc = new TextEncoder();
    const request = `*${args.length}\r\n` +
      args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`).join("");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(enc.encode(request));
      let text = "";
      const buf = new Uint8Array(4096);
      for (;;) {
        const reply = parseReply(text);
        if (reply !== undefined) return reply;
        const n = await bounded(conn.read(buf), 5_000, () => `no reply from redis to ${args[0]}`);
        if (n === null) throw new Error(`redis closed the connection during ${args[0]}`);
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    } finally {
      conn.close();
    }
  }

  /** PID of the process. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Ends Redis by PID (SIGKILL: it keeps nothing on disk). Idempotent. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#pump;
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
