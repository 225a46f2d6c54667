/**
 * One call inside a call host: agents-js's own job sequence (`job_proc_lazy_main.ts`
 * `startJob`), per job instead of per process. A fresh `Room`, a `JobContext` on the host's
 * shared `JobProcess` (its prewarmed VAD), the entry run in the job's async context; when the
 * job is told to close: the entry is awaited (bounded), the session finalized, the room left,
 * the shutdown callbacks run; every step reported to the worker over the job's channel, exactly
 * as a job process would report it.
 *
 * What differs from a process of its own: a job can be {@link HostedJob.abandon}ed (the worker
 * killed its "process", or the forced ending gave up on a stuck close). Its room is left, its
 * channel ends at once, and whatever the stuck job still holds stays in the host, which then
 * retires.
 *
 * @module
 */
import {
  type AgentDefinition,
  type ipc,
  JobContext,
  type JobProcess,
  log,
  runWithJobContext,
  runWithJobContextAsync,
} from "@livekit/agents";
import { Room, RoomEvent } from "@livekit/rtc-node";
import { EventEmitter, once } from "node:events";
import { bindLogContext, forgetJobLogger } from "../../core/log.ts";
import type { JobLifecycle } from "./agents_internals.ts";
import type { AgentsMessage } from "./protocol.ts";

/** How long an abandoned job's room gets to be left before the channel ends anyway. */
export const ABANDON_LEAVE_MS = 2_000;

const EXIT_REASON = {
  roomDisconnected: "room disconnected",
  shutdownRequest: "shutdown request",
  jobCrashed: "job crashed",
} as const;

/** The agents-js job info a `startJobRequest` carries. */
type RunningJobInfo = ConstructorParameters<typeof JobContext>[1];

/** What a job needs from its host. */
export interface JobHostSide {
  /** The host's process-wide `JobProcess` (prewarmed once). */
  proc: JobProcess;
  /** The agent module's definition. */
  agent: AgentDefinition;
  /** agents-js's lifecycle helpers. */
  lifecycle: JobLifecycle;
  /** The worker's session-end bound. */
  sessionEndTimeout: number;
  /** Sends an agents-js message to the worker on this job's channel. */
  send: (msg: AgentsMessage) => void;
}

/** Inference over the job's channel: agents-js's worker answers it from its inference process. */
class ChannelInference implements ipc.InferenceExecutor {
  readonly #send: (msg: AgentsMessage) => void;
  readonly #pending = new Map<string, PromiseWithResolvers<unknown>>();
  #ids = 0;

  constructor(send: (msg: AgentsMessage) => void) {
    this.#send = send;
  }

  doInference(method: string, data: unknown): Promise<unknown> {
    const requestId = `inference_host_${++this.#ids}`;
    const pending = Promise.withResolvers<unknown>();
    this.#pending.set(requestId, pending);
    this.#send({ case: "inferenceRequest", value: { requestId, method, data } });
    return pending.promise;
  }

  /** A response from the worker. */
  answer(value: { requestId: string; data?: unknown; error?: { message?: string } }): void {
    const pending = this.#pending.get(value.requestId);
    if (!pending) return;
    this.#pending.delete(value.requestId);
    if (value.error) {
      pending.reject(new Error(`inference failed: ${value.error.message ?? "unknown error"}`));
    } else pending.resolve(value.data);
  }

  /** Fails every request still waiting (the job is over). */
  abort(): void {
    for (const p of this.#pending.values()) p.reject(new Error("the job ended"));
    this.#pending.clear();
  }
}

/** One call running in a host. */
export class HostedJob {
  /** The job's id. */
  readonly id: string;
  /** Settles when the job's whole sequence is over (its `done` was sent). */
  readonly finished: Promise<void>;
  readonly #close = new EventEmitter();
  readonly #inference: ChannelInference;
  readonly #room = new Room();
  readonly #send: (msg: AgentsMessage) => void;
  #shutdown = false;
  #abandoned = false;

  /** Starts the job at once. */
  constructor(host: JobHostSide, info: RunningJobInfo) {
    this.id = info.job.id;
    this.#send = host.send;
    this.#inference = new ChannelInference(host.send);
    this.finished = this.#run(host, info);
  }

  /** Tells the job to close (a shutdown request from the worker). */
  close(reason: string): void {
    this.#close.emit("close", reason);
  }

  /** A message for the job from the worker (inference responses). */
  deliver(msg: AgentsMessage): void {
    if (msg.case === "inferenceResponse") {
      this.#inference.answer(msg.value as { requestId: string });
    }
  }

  /** True once {@link abandon} ran. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /**
   * Gives the job up: leaves its room (bounded by {@link ABANDON_LEAVE_MS}) and stops reporting
   * on its channel; the sequence may still be stuck somewhere, and stays so.
   */
  async abandon(): Promise<void> {
    if (this.#abandoned) return;
    this.#abandoned = true;
    this.#shutdown = true;
    this.#inference.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#room.disconnect().catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, ABANDON_LEAVE_MS)),
    ]);
    clearTimeout(timer);
  }

  #report(msg: AgentsMessage): void {
    if (!this.#abandoned) this.#send(msg);
  }

  async #run(host: JobHostSide, info: RunningJobInfo): Promise<void> {
    const logger = log().child({ jobID: info.job.id, room_id: info.job.room?.sid });
    let connected = false;
    this.#room.on(RoomEvent.Disconnected, () => {
      if (!this.#shutdown) this.close(EXIT_REASON.roomDisconnected);
    });
    const ctx = new JobContext(
      host.proc,
      info,
      this.#room,
      () => connected = true,
      (reason: string) => {
        this.#shutdown = true;
        this.close(reason);
      },
      this.#inference,
    );
    // Room events come from rtc-node's native callbacks, outside any job's async context; run
    // them in this job's, so what they start (a hang-up, the session's close) logs as this job.
    const room = this.#room as unknown as { emit: (...args: unknown[]) => boolean };
    const emit = room.emit.bind(room);
    room.emit = (...args) => runWithJobContext(ctx, () => emit(...args));
    const unconnected = setTimeout(() => {
      if (!(connected || this.#shutdown)) {
        logger.warn("the room was not connected 10 s after the entry started; call ctx.connect()");
      }
    }, 10_000);
    try {
      const closed = once(this.#close, "close").then(([reason]) => {
        this.#shutdown = true;
        this.#report({ case: "exiting", value: { reason } });
      });
      const entry = runWithJobContextAsync(ctx, () => {
        // Every line of this call, the library's included, says which job and room it is.
        bindLogContext({ jobID: info.job.id, room_id: info.job.room?.sid, call_host: true });
        return host.agent.entry(ctx);
      });
      entry.catch((error) => {
        logger.error({ error }, "the job's entry failed");
        this.close(EXIT_REASON.jobCrashed);
      });
      await closed;
      await host.lifecycle.waitForEntrypointShutdown(entry, logger);
    } finally {
      clearTimeout(unconnected);
    }
    try {
      await runWithJobContextAsync(ctx, async () => {
        try {
          await host.lifecycle.finalizeSession(
            ctx,
            host.agent.onSessionEnd as ((c: JobContext) => unknown) | undefined,
            host.sessionEndTimeout,
            logger,
          );
        } finally {
          this.#report({ case: "shuttingDown", value: undefined });
        }
        try {
          await this.#room.disconnect();
        } catch (error) {
          logger.error({ error }, "error while disconnecting room");
        }
        await host.lifecycle.runShutdownCallbacks(ctx.shutdownCallbacks, logger);
      });
    } finally {
      this.#inference.abort();
      this.#report({ case: "done", value: undefined });
      forgetJobLogger(info.job.id);
    }
  }
}
