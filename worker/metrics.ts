/**
 * The worker's Prometheus metrics: LiveKit's Python SDK's worker metrics under their names, and
 * how calls end, counted in the main process from what the job processes report
 * (`core/call_metrics.ts`). `GET /metrics` on the health port serves them (`health_front.ts`).
 *
 * Client: prom-client (the Node ecosystem's standard Prometheus client, which runs unchanged on
 * Deno): registry, counters, gauges, histograms and the text format come from it, nothing here
 * writes the exposition format by hand. Its cluster aggregation is not used: job processes are
 * not cluster workers, and a counter summed over processes that come and go would go down when
 * one exits; the job processes send events and this process owns every series.
 *
 * Labels stay low-cardinality: never a room, a participant or a job id. Every list of metric
 * names the dashboard and the docs use is {@link METRIC_NAMES}.
 * @module
 */
import { hostname } from "node:os";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type CallEvent, heardLabel, type Hello } from "../core/call_metrics.ts";
import { type ProcessRole, ProcessStats } from "./process_stats.ts";

/** Every metric this worker serves, by name (the dashboard test checks its queries against it). */
export const METRIC_NAMES = [
  "lk_agents_proc_initialize_duration_seconds",
  "lk_agents_active_job_count",
  "lk_agents_child_process_count",
  "lk_agents_worker_load",
  "exit_message_calls_started_total",
  "exit_message_calls_active",
  "exit_message_calls_ended_total",
  "exit_message_goodbye_total",
  "exit_message_bye_to_goodbye_heard_seconds",
  "exit_message_goodbye_to_hangup_seconds",
  "exit_message_reply_latency_seconds",
  "exit_message_failed_turns_total",
  "exit_message_apologies_total",
  "exit_message_calls_ended_by_failure_total",
  "exit_message_forced_endings_total",
  "exit_message_job_process_failures_total",
  "exit_message_process_cpu_seconds_total",
  "exit_message_process_resident_memory_bytes",
  "exit_message_process_pss_bytes",
  "exit_message_processes",
] as const;

/** One of {@link METRIC_NAMES}. */
export type MetricName = typeof METRIC_NAMES[number];

/** End reasons kept as label values; anything else is counted as `other`. */
const END_REASONS = new Set([
  "end_session",
  "participant_disconnected",
  "room_disconnected",
  "sigint",
  "sigterm",
  "llm_error",
  "tts_error",
  "stt_error",
  "error",
  "job_shutdown",
  "user_initiated",
  "close_timeout",
  "process_exit",
]);

/** What the worker itself can tell at scrape time (agents-js's `AgentServer`). */
export interface WorkerView {
  /** Jobs running now (`AgentServer.activeJobs.length`). */
  activeJobs(): number;
  /** The load last reported to the LiveKit server (0..1), if measured yet. */
  load(): number | undefined;
}

/** The worker's metrics registry and what feeds it. */
export class WorkerMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  readonly #stats: ProcessStats;
  readonly #callsStarted: Counter;
  readonly #callsActive: Gauge;
  readonly #callsEnded: Counter;
  readonly #goodbye: Counter;
  readonly #byeToHeard: Histogram;
  readonly #goodbyeToHangup: Histogram;
  readonly #replyLatency: Histogram;
  readonly #failedTurns: Counter;
  readonly #apologies: Counter;
  readonly #endedByFailure: Counter;
  readonly #forced: Counter;
  readonly #procFailures: Counter;
  readonly #procInit: Histogram;
  #active = 0;

  /** Creates the registry; `view` is read at each scrape. */
  constructor(view: WorkerView, root: number = Deno.pid) {
    const r = [this.registry];
    const nodename = hostname();
    this.#stats = new ProcessStats(root);
    const stats = this.#stats;

    // LiveKit's Python SDK (livekit/agents/telemetry/metrics.py): same names, meanings, label.
    this.#procInit = new Histogram({
      name: "lk_agents_proc_initialize_duration_seconds",
      help: "Time taken to initialize a process",
      labelNames: ["nodename"],
      buckets: [0.1, 0.5, 1, 2, 5, 10],
      registers: r,
    });
    new Gauge({
      name: "lk_agents_active_job_count",
      help: "Active jobs",
      labelNames: ["nodename"],
      registers: r,
      collect() {
        this.set({ nodename }, view.activeJobs());
      },
    });
    new Gauge({
      name: "lk_agents_child_process_count",
      help: "Total number of child processes",
      labelNames: ["nodename"],
      registers: r,
      collect() {
        this.set({ nodename }, stats.childCount());
      },
    });
    new Gauge({
      name: "lk_agents_worker_load",
      help: "Worker load percentage",
      labelNames: ["nodename"],
      registers: r,
      collect() {
        const load = view.load();
        if (load !== undefined) this.set({ nodename }, load);
      },
    });

    // How calls end.
    this.#callsStarted = new Counter({
      name: "exit_message_calls_started_total",
      help: "Calls whose job entrypoint started",
      registers: r,
    });
    this.#callsActive = new Gauge({
      name: "exit_message_calls_active",
      help: "Calls started and not yet ended",
      registers: r,
    });
    this.#callsEnded = new Counter({
      name: "exit_message_calls_ended_total",
      help: "Calls ended, by end_reason (the `session ended` line's)",
      labelNames: ["end_reason"],
      registers: r,
    });
    this.#goodbye = new Counter({
      name: "exit_message_goodbye_total",
      help: "Ended calls by what the caller heard of the goodbye: played, partial, not_heard, " +
        "skipped (the user hung up), none (no goodbye was due)",
      labelNames: ["outcome"],
      registers: r,
    });
    this.#byeToHeard = new Histogram({
      name: "exit_message_bye_to_goodbye_heard_seconds",
      help: "From the end of the user's bye to the end of the goodbye's playout",
      buckets: [0.5, 1, 1.5, 2, 3, 4, 6, 10, 15],
      registers: r,
    });
    this.#goodbyeToHangup = new Histogram({
      name: "exit_message_goodbye_to_hangup_seconds",
      help: "From the end of the goodbye to the caller being hung up (room deleted, or the agent " +
        "left with END_CALL_ACTION=leave)",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    });
    this.#replyLatency = new Histogram({
      name: "exit_message_reply_latency_seconds",
      help: "From the end of the user's speech to the agent's first audio, per spoken turn, by " +
        "what decided the turn",
      labelNames: ["decided_by"],
      buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers: r,
    });
    this.#failedTurns = new Counter({
      name: "exit_message_failed_turns_total",
      help:
        "Failed turns by kind: llm, stt, tts (past the plugin's retries), stall (LLM reply cut " +
        "by the watchdog)",
      labelNames: ["kind"],
      registers: r,
    });
    this.#apologies = new Counter({
      name: "exit_message_apologies_total",
      help: "Apologies said after a failed turn",
      registers: r,
    });
    this.#endedByFailure = new Counter({
      name: "exit_message_calls_ended_by_failure_total",
      help: "Calls ended because MAX_FAILED_TURNS turns in a row failed, by the model that failed",
      labelNames: ["model"],
      registers: r,
    });
    this.#forced = new Counter({
      name: "exit_message_forced_endings_total",
      help: "Calls ended by the forced ending (the session did not close within its bound)",
      labelNames: ["reason"],
      registers: r,
    });
    this.#procFailures = new Counter({
      name: "exit_message_job_process_failures_total",
      help: "Job processes that exited non-zero (exit_nonzero) or were ended by a signal (killed)",
      labelNames: ["how"],
      registers: r,
    });

    // CPU and memory by process role, read from /proc at scrape time.
    const byRole = () => stats.sample();
    new Counter({
      name: "exit_message_process_cpu_seconds_total",
      help: "CPU time (user + system) of the worker's processes, by role (main, inference, job); " +
        "exited processes keep counting",
      labelNames: ["role"],
      registers: r,
      collect() {
        this.reset();
        for (const [role, s] of byRole()) this.inc({ role }, s.cpuSeconds);
      },
    });
    new Gauge({
      name: "exit_message_process_resident_memory_bytes",
      help: "Resident memory (RSS) of the worker's live processes, by role",
      labelNames: ["role"],
      registers: r,
      collect() {
        this.reset();
        for (const [role, s] of byRole()) this.set({ role }, s.rssBytes);
      },
    });
    new Gauge({
      name: "exit_message_process_pss_bytes",
      help: "Proportional set size (shared pages split between the processes that map them) of " +
        "the worker's live processes, by role: what they add up to on the machine",
      labelNames: ["role"],
      registers: r,
      collect() {
        this.reset();
        for (const [role, s] of byRole()) this.set({ role }, s.pssBytes);
      },
    });
    new Gauge({
      name: "exit_message_processes",
      help: "Live processes of the worker, by role",
      labelNames: ["role"],
      registers: r,
      collect() {
        this.reset();
        for (const [role, s] of byRole()) this.set({ role }, s.count);
      },
    });
    // Zero series for the usual label values, so a dashboard's rate() has a start point.
    this.#callsActive.set(0);
    for (const end_reason of ["end_session", "participant_disconnected", "room_disconnected"]) {
      this.#callsEnded.inc({ end_reason }, 0);
    }
    for (const outcome of ["played", "partial", "not_heard", "skipped", "none"]) {
      this.#goodbye.inc({ outcome }, 0);
    }
    for (const kind of ["llm", "stt", "tts", "stall"]) this.#failedTurns.inc({ kind }, 0);
    for (const how of ["exit_nonzero", "killed"]) this.#procFailures.inc({ how }, 0);
    this.#forced.inc({ reason: "close_timeout" }, 0);
  }

  /** The exposition text (`text/plain; version=0.0.4`). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link metrics}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Counts one event from a job process. */
  record(event: CallEvent | Hello): void {
    switch (event.kind) {
      case "hello":
        return;
      case "proc_initialized":
        this.#procInit.observe({ nodename: hostname() }, event.seconds);
        return;
      case "call_started":
        this.#callsStarted.inc();
        this.#callsActive.set(++this.#active);
        return;
      case "turn":
        if (event.replySeconds !== undefined) {
          this.#replyLatency.observe({ decided_by: event.decidedBy }, event.replySeconds);
        }
        return;
      case "failed_turn":
        this.#failedTurns.inc({ kind: event.failure });
        if (event.apology === "said") this.#apologies.inc();
        return;
      case "bye_to_goodbye_heard":
        this.#byeToHeard.observe(event.seconds);
        return;
      case "goodbye_to_hangup":
        this.#goodbyeToHangup.observe(event.seconds);
        return;
      case "call_ended":
        this.#ended(END_REASONS.has(event.endReason) ? event.endReason : "other");
        this.#goodbye.inc({ outcome: heardLabel(event.goodbye) });
        if (event.forced) this.#forced.inc({ reason: event.forced });
        if (event.failedModel) this.#endedByFailure.inc({ model: event.failedModel });
        return;
    }
  }

  /**
   * A job process's channel closed. `openCalls`: calls it started and never reported ended (the
   * process died mid-call; a call host may hold several), each counted as ended (`process_exit`). `exit`: its exit
   * status as it recorded it, or undefined when it recorded none (ended by a signal).
   */
  processGone(openCalls: number, exit: number | undefined): void {
    for (let i = 0; i < openCalls; i++) {
      this.#ended("process_exit");
      this.#goodbye.inc({ outcome: "none" });
    }
    if (exit === undefined) this.#procFailures.inc({ how: "killed" });
    else if (exit !== 0) this.#procFailures.inc({ how: "exit_nonzero" });
  }

  #ended(endReason: string): void {
    this.#callsEnded.inc({ end_reason: endReason });
    this.#active = Math.max(0, this.#active - 1);
    this.#callsActive.set(this.#active);
  }

  /** Roles the process table knows (for docs and tests). */
  static readonly roles: readonly ProcessRole[] = ["main", "inference", "job"];
}
