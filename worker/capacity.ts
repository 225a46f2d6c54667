/**
 * `MAX_JOBS`: a worker's capacity counted in calls, held even against a burst.
 *
 * agents-js tells the server a worker's load every 2.5 s, and accepts every job request in
 * between (its default request handler never says no): a burst of calls inside one report's
 * window all went to one worker, past its limit (measured: a worker at `MAX_JOBS=1` took three
 * calls that arrived together). So the worker also answers each request itself: it accepts
 * while its running jobs plus the ones it accepted and has not started yet stay under the
 * limit, and refuses past it; the server then offers the call to another worker, and with none
 * left the call is not dispatched (the call keeper, `keeper/`, answers or ends such a call).
 *
 * @module
 */
import type { AgentServer, JobRequest } from "@livekit/agents";
import { log } from "../core/log.ts";

/**
 * How long an accepted job may take to appear among the running ones before its place is
 * released: the server's assignment after the accept (agents-js waits 7.5 s for it) and the job
 * process's launch.
 */
export const RESERVATION_MS = 10_000;

/** A worker's capacity in calls (see the module header). */
export class CallCapacity {
  /** The limit. */
  readonly maxJobs: number;
  readonly #reserved = new Map<string, number>();
  readonly #now: () => number;
  #running: () => string[] = () => [];

  /** A capacity of `maxJobs` calls; `now` is the clock (ms) of the reservations. */
  constructor(maxJobs: number, now: () => number = () => performance.now()) {
    this.maxJobs = maxJobs;
    this.#now = now;
  }

  /** Counts `server`'s running jobs from now on (agents-js passes it to the load function). */
  bind(server: Pick<AgentServer, "activeJobs">): void {
    this.#running = () => server.activeJobs.map((j) => j.job.id);
  }

  /** Calls taken: running, plus accepted and not yet running. */
  get taken(): number {
    const running = this.#running();
    const now = this.#now();
    for (const [id, at] of this.#reserved) {
      if (running.includes(id) || now - at > RESERVATION_MS) this.#reserved.delete(id);
    }
    return running.length + this.#reserved.size;
  }

  /** The load to report: calls taken over the limit, at most 1 (full). */
  load(): number {
    return Math.min(1, this.taken / this.maxJobs);
  }

  /** Answers a job request: accepts while a place is free, refuses past the limit. */
  async request(req: Pick<JobRequest, "id" | "accept" | "reject">): Promise<void> {
    const taken = this.taken;
    if (taken >= this.maxJobs) {
      log().info(
        { job_id: req.id, taken, max_jobs: this.maxJobs },
        `refusing a job: ${taken} of MAX_JOBS=${this.maxJobs} calls taken; the server offers it to another worker`,
      );
      await req.reject();
      return;
    }
    this.#reserved.set(req.id, this.#now());
    await req.accept();
  }
}
