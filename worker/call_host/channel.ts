/**
 * One agents-js executor's "process" when calls share a host: what agents-js's supervisor
 * (`SupervisedProc`) expects of a `ChildProcess` (`send`, `kill`, `connected`, `exitCode`,
 * `killed`, the `message` and `exit` events), backed by a channel of a shared call host.
 *
 * agents-js keeps doing everything it does for a job process: initialize and its timeout, pings
 * and the unresponsive-job kill, the job's launch, shutdown requests and their timeouts. A kill
 * ends the channel's job in the host at once; a host that does not confirm it within
 * {@link KILL_GRACE_MS} is killed whole, like the process agents-js meant to kill.
 *
 * @module
 */
import { EventEmitter } from "node:events";
import type { AgentsMessage } from "./protocol.ts";

/** How long a host has to end a killed channel's job before the host itself is killed. */
export const KILL_GRACE_MS = 3_000;

/** What a channel needs of its host. */
export interface ChannelHost {
  /** The host process's PID (for logs). */
  readonly pid: number | undefined;
  /** True while the host process runs and its IPC channel is open. */
  readonly alive: boolean;
  /** Sends an agents-js message to the job side of channel `ch`. */
  relay(ch: number, msg: AgentsMessage): boolean;
  /** Asks the host to end channel `ch` now. */
  killChannel(ch: number): void;
  /** Kills the host process (every channel in it ends). */
  killHost(why: string): void;
}

/** A channel of a call host, as agents-js's supervisor sees a child process. */
export class HostChannel extends EventEmitter {
  /** The channel's number, unique in its worker. */
  readonly ch: number;
  #host: ChannelHost;
  #init?: AgentsMessage;
  #initialized = false;
  #swallowInit = false;
  #started = false;
  #shutdownSent = false;
  #exited = false;
  #killTimer?: ReturnType<typeof setTimeout>;
  /** As `ChildProcess.exitCode`: null until the channel ended. */
  exitCode: number | null = null;
  /** As `ChildProcess.signalCode`. */
  signalCode: string | null = null;
  /** As `ChildProcess.killed`: true once `kill()` was called. */
  killed = false;

  readonly #killGraceMs: number;

  /** A channel numbered `ch` of `host` (`killGraceMs`: tests shorten {@link KILL_GRACE_MS}). */
  constructor(ch: number, host: ChannelHost, killGraceMs = KILL_GRACE_MS) {
    super();
    this.ch = ch;
    this.#host = host;
    this.#killGraceMs = killGraceMs;
  }

  /**
   * No PID of its own: agents-js's per-process memory check (pidusage) would read the whole
   * shared host against a per-job threshold. The host's memory is watched as a whole instead.
   */
  get pid(): undefined {
    return undefined;
  }

  /** The host's PID, for logs and tests. */
  get hostPid(): number | undefined {
    return this.#host.pid;
  }

  /** As `ChildProcess.connected`. */
  get connected(): boolean {
    return !this.#exited && this.#host.alive;
  }

  /** The id of the job agents-js launched on this channel, once it did. */
  jobId?: string;

  /** As `ChildProcess.send`: relays an agents-js message to the channel's job side. */
  send(msg: AgentsMessage): boolean {
    if (!this.connected) return false;
    if (msg.case === "initializeRequest") this.#init = msg;
    if (msg.case === "shutdownRequest") this.#shutdownSent = true;
    if (msg.case === "startJobRequest") {
      this.#started = true;
      this.jobId = (msg.value as { runningJob?: { job?: { id?: string } } })?.runningJob?.job?.id;
    }
    return this.#host.relay(this.ch, msg);
  }

  /**
   * True for a channel that is only capacity: no call was started on it and agents-js is not
   * closing it. Such a channel can move to another host without agents-js noticing.
   */
  get idle(): boolean {
    return !this.#started && !this.#shutdownSent && !this.#exited;
  }

  /** True once its host answered the initialize request. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /**
   * Moves this idle channel to `host`: the initialize request is sent there again (its answer is
   * kept from agents-js when agents-js already had one), so the next call it gets runs there.
   */
  moveTo(host: ChannelHost): void {
    this.#host = host;
    if (!this.#init) return;
    this.#swallowInit = this.#initialized;
    host.relay(this.ch, this.#init);
  }

  /** As `ChildProcess.kill`: ends the channel's job now (the host, if it does not comply). */
  kill(_signal?: string): boolean {
    if (this.#exited) return false;
    this.killed = true;
    this.#host.killChannel(this.ch);
    this.#killTimer ??= setTimeout(
      () => this.#host.killHost(`channel ${this.ch} was not ended within ${this.#killGraceMs} ms`),
      this.#killGraceMs,
    );
    return true;
  }

  /** As `ChildProcess.disconnect`: nothing to do, the host's channel stays with the host. */
  disconnect(): void {}

  /** Delivers a message from the channel's job side. */
  deliver(msg: AgentsMessage): void {
    if (this.#exited) return;
    if (msg.case === "initializeResponse") {
      this.#initialized = true;
      if (this.#swallowInit) {
        this.#swallowInit = false;
        return;
      }
    }
    this.emit("message", msg);
  }

  /** Ends the channel as a process exit (`code`, or `signal` when the host was killed). */
  exited(code: number | null, signal: string | null = null): void {
    if (this.#exited) return;
    this.#exited = true;
    clearTimeout(this.#killTimer);
    this.exitCode = code;
    this.signalCode = signal;
    this.emit("exit", code, signal);
    this.emit("close", code, signal);
  }

  /** True once the channel ended. */
  get ended(): boolean {
    return this.#exited;
  }
}
