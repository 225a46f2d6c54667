/**
 * The worker's call hosts: processes that each run several calls, one per channel. agents-js's
 * process pool still decides when an executor starts, is given a job, and is closed; each of its
 * executors gets a channel of a host (`open`) instead of a process of its own.
 *
 * Placement packs channels into the fullest host that has room (`callsPerHost`), so hosts empty
 * out and can go. A host retires (takes no new channel, exits when its last one ends) after it
 * served `retireAfterCalls` calls, after one of its calls had to be abandoned or killed (what
 * that call held stays in the host until it exits), or when it is empty while another host can
 * take the next channel.
 *
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ChannelHost, HostChannel } from "./channel.ts";
import { type AgentsMessage, type FromHost, isEnvelope, type ToHost } from "./protocol.ts";

/** Default number of calls a host serves before it retires (bounds what a slow leak can hold). */
export const DEFAULT_RETIRE_AFTER_CALLS = 200;

/** The host process's entry module. */
export const HOST_MAIN = fileURLToPath(new URL("./host_main.ts", import.meta.url));

/** Options of {@link CallHosts}. */
export interface CallHostsOptions {
  /** Absolute path of the agent module each host imports. */
  agentPath: string;
  /** Channels (idle or with a call) one host takes. */
  callsPerHost: number;
  /** Calls a host serves before it retires (default {@link DEFAULT_RETIRE_AFTER_CALLS}). */
  retireAfterCalls?: number;
  /** Logs a host's start, retirement and exit. */
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void;
  /** Starts a host process (tests pass their own entry); default forks {@link HOST_MAIN}. */
  spawn?: (agentPath: string) => ChildProcess;
}

/** What a host looks like from outside, for logs, metrics and tests. */
export interface HostInfo {
  /** Its PID. */
  pid: number | undefined;
  /** Open channels (idle or with a call). */
  channels: number;
  /** Calls it ran to their end. */
  served: number;
  /** Why it takes no new channel, if it does not. */
  retiring?: string;
}

class Host implements ChannelHost {
  readonly child: ChildProcess;
  readonly channels = new Map<number, HostChannel>();
  served = 0;
  retiring?: string;
  #alive = true;

  constructor(child: ChildProcess) {
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.#alive && this.child.connected;
  }

  send(msg: ToHost): boolean {
    if (!this.alive) return false;
    try {
      return this.child.send(msg);
    } catch {
      return false;
    }
  }

  relay(ch: number, msg: AgentsMessage): boolean {
    return this.send({ ch, msg });
  }

  killChannel(ch: number): void {
    this.send({ ch, kill: true });
  }

  killHost(_why: string): void {
    if (this.#alive) this.child.kill("SIGKILL");
  }

  died(): void {
    this.#alive = false;
  }
}

/** The set of call hosts of one worker. */
export class CallHosts {
  readonly #options: Required<Omit<CallHostsOptions, "log" | "spawn">>;
  readonly #log: NonNullable<CallHostsOptions["log"]>;
  readonly #spawn: (agentPath: string) => ChildProcess;
  readonly #hosts: Host[] = [];
  #nextChannel = 0;

  /** Hosts for `options.agentPath`, none started until a channel is opened. */
  constructor(options: CallHostsOptions) {
    if (!Number.isInteger(options.callsPerHost) || options.callsPerHost < 1) {
      throw new RangeError(`callsPerHost must be a positive integer, got ${options.callsPerHost}`);
    }
    this.#options = {
      agentPath: options.agentPath,
      callsPerHost: options.callsPerHost,
      retireAfterCalls: options.retireAfterCalls ?? DEFAULT_RETIRE_AFTER_CALLS,
    };
    this.#log = options.log ?? (() => {});
    this.#spawn = options.spawn ??
      ((agentPath) => fork(HOST_MAIN, [agentPath], { stdio: "inherit" }));
  }

  /** The hosts now running. */
  get hosts(): HostInfo[] {
    return this.#hosts.map((h) => ({
      pid: h.pid,
      channels: h.channels.size,
      served: h.served,
      retiring: h.retiring,
    }));
  }

  /** A channel on the fullest host with room, or on a new host. */
  open(): HostChannel {
    const host = this.#place();
    const channel = new HostChannel(++this.#nextChannel, host);
    host.channels.set(channel.ch, channel);
    return channel;
  }

  #place(): Host {
    const candidates = this.#hosts
      .filter((h) => !h.retiring && h.alive && h.channels.size < this.#options.callsPerHost)
      .sort((a, b) => b.channels.size - a.channels.size);
    return candidates[0] ?? this.#start();
  }

  /**
   * Moves the idle channels (capacity agents-js keeps warm, no call on them) off `host`, which
   * is retiring or gone: agents-js's pool would otherwise hand the next call to a host that
   * should take none, or to one that no longer exists.
   */
  #moveIdle(host: Host, which: (c: HostChannel) => boolean): void {
    for (const channel of [...host.channels.values()]) {
      if (!channel.idle || !which(channel)) continue;
      host.channels.delete(channel.ch);
      const to = this.#place();
      to.channels.set(channel.ch, channel);
      channel.moveTo(to);
      // The old host drops its side of the channel (it has no call on it).
      host.killChannel(channel.ch);
    }
  }

  #start(): Host {
    const child = this.#spawn(this.#options.agentPath);
    const host = new Host(child);
    this.#hosts.push(host);
    this.#log("info", "call host started", {
      host_pid: child.pid,
      calls_per_host: this.#options.callsPerHost,
    });
    child.on("message", (msg: FromHost) => this.#onMessage(host, msg));
    child.on("exit", (code, signal) => this.#onExit(host, code, signal));
    child.on("error", (error) => {
      this.#log("warn", "call host process failed", { host_pid: child.pid, error: String(error) });
    });
    return host;
  }

  #onMessage(host: Host, msg: FromHost): void {
    if (!isEnvelope(msg)) return;
    if ("retiring" in msg) {
      this.#retire(host, msg.retiring);
      return;
    }
    const channel = host.channels.get(msg.ch);
    if (!channel) return;
    if ("msg" in msg) {
      channel.deliver(msg.msg);
    } else if ("closed" in msg) {
      host.channels.delete(msg.ch);
      if (msg.closed.served) host.served++;
      if (channel.jobId !== undefined) {
        this.#log("info", "job ended in its call host", {
          jobID: channel.jobId,
          host_pid: host.pid,
          code: msg.closed.code,
          ...(msg.closed.signal ? { signal: msg.closed.signal } : {}),
          calls_left: host.channels.size,
        });
      }
      channel.exited(msg.closed.code, msg.closed.signal ?? null);
      this.#afterChannelEnded(host);
    }
  }

  #afterChannelEnded(host: Host): void {
    if (!host.retiring && host.served >= this.#options.retireAfterCalls) {
      this.#retire(host, `served ${host.served} calls`);
    }
    if (host.channels.size > 0) return;
    if (host.retiring) {
      host.send({ retire: true });
    } else if (this.#hosts.some((h) => h !== host && !h.retiring && h.alive)) {
      this.#retire(host, "empty, and another host takes the next calls");
    }
  }

  #retire(host: Host, why: string): void {
    if (host.retiring) return;
    host.retiring = why;
    this.#moveIdle(host, () => true);
    this.#log("info", "call host retiring: it takes no new call", {
      host_pid: host.pid,
      why,
      calls_left: host.channels.size,
    });
    if (host.channels.size === 0) host.send({ retire: true });
  }

  #onExit(host: Host, code: number | null, signal: string | null): void {
    host.died();
    const i = this.#hosts.indexOf(host);
    if (i >= 0) this.#hosts.splice(i, 1);
    // Warm capacity survives its host (a host that never finished prewarming does not retry).
    this.#moveIdle(host, (c) => c.initialized);
    const calls = [...host.channels.values()];
    host.channels.clear();
    if (calls.length > 0 || (code !== 0 && !host.retiring)) {
      this.#log("warn", "call host exited with calls in it", {
        host_pid: host.pid,
        code,
        signal,
        channels: calls.length,
      });
    } else {
      this.#log("info", "call host exited", { host_pid: host.pid, code, served: host.served });
    }
    for (const c of calls) c.exited(code ?? null, signal);
  }
}
