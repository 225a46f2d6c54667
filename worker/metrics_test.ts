import { assert, assertEquals } from "@std/assert";
import { histogramSum, parseScrape, value } from "../testing/prometheus.ts";
import { METRIC_NAMES, WorkerMetrics } from "./metrics.ts";

function metrics(active = 0, load?: number) {
  return new WorkerMetrics({ activeJobs: () => active, load: () => load });
}

Deno.test("metrics: every listed metric is served, with its HELP and TYPE, and parses", async () => {
  const m = metrics(2, 0.25);
  const families = await parseScrape(await m.metrics());
  for (const name of METRIC_NAMES) assert(families[name], `${name} missing`);
  assertEquals(Object.keys(families).sort(), [...METRIC_NAMES].sort());
  assertEquals(value(families, "lk_agents_active_job_count"), 2);
  assertEquals(value(families, "lk_agents_worker_load"), 0.25);
  assert(families["lk_agents_active_job_count"].data[0].labels.nodename, "no nodename label");
  assertEquals(value(families, "exit_message_processes", { role: "main" }), 1);
  assert(value(families, "exit_message_process_cpu_seconds_total", { role: "main" }) > 0);
  assert(value(families, "exit_message_process_pss_bytes", { role: "main" }) > 0);
});

Deno.test("metrics: a call's events move the counters; a process gone mid-call ends its call", async () => {
  const m = metrics();
  m.record({ kind: "hello", pid: 1 });
  m.record({ kind: "proc_initialized", seconds: 0.3 });
  m.record({ kind: "call_started" });
  m.record({ kind: "turn", decidedBy: "vad", replySeconds: 1.2 });
  m.record({ kind: "turn", decidedBy: "no_model" });
  m.record({ kind: "failed_turn", failure: "stall", apology: "said" });
  m.record({ kind: "failed_turn", failure: "tts", apology: "not_heard" });
  let f = await parseScrape(await m.metrics());
  assertEquals(value(f, "exit_message_calls_active"), 1);
  assertEquals(value(f, "exit_message_reply_latency_seconds", { decided_by: "vad" }), 1);
  assertEquals(histogramSum(f, "exit_message_reply_latency_seconds"), 1.2);
  assertEquals(value(f, "exit_message_failed_turns_total", { kind: "stall" }), 1);
  assertEquals(value(f, "exit_message_apologies_total"), 1);
  assertEquals(value(f, "lk_agents_proc_initialize_duration_seconds"), 1);

  m.record({ kind: "bye_to_goodbye_heard", seconds: 2 });
  m.record({ kind: "goodbye_to_hangup", seconds: 0.4 });
  m.record({ kind: "call_ended", endReason: "end_session", goodbye: "played" });
  m.record({ kind: "call_started" });
  m.record({
    kind: "call_ended",
    endReason: "llm_error",
    goodbye: "timed_out",
    forced: "close_timeout",
    failedModel: "llm",
  });
  m.record({ kind: "call_started" });
  m.record({ kind: "call_ended", endReason: "some new reason", goodbye: "in_progress" });
  m.record({ kind: "call_started" });
  m.processGone(1, undefined);
  m.processGone(0, 1);
  m.processGone(0, 0);
  f = await parseScrape(await m.metrics());
  assertEquals(value(f, "exit_message_calls_started_total"), 4);
  assertEquals(value(f, "exit_message_calls_active"), 0);
  assertEquals(value(f, "exit_message_calls_ended_total", { end_reason: "end_session" }), 1);
  assertEquals(value(f, "exit_message_calls_ended_total", { end_reason: "other" }), 1);
  assertEquals(value(f, "exit_message_calls_ended_total", { end_reason: "process_exit" }), 1);
  assertEquals(value(f, "exit_message_goodbye_total", { outcome: "played" }), 1);
  assertEquals(value(f, "exit_message_goodbye_total", { outcome: "not_heard" }), 1);
  assertEquals(value(f, "exit_message_goodbye_total", { outcome: "partial" }), 1);
  assertEquals(value(f, "exit_message_forced_endings_total", { reason: "close_timeout" }), 1);
  assertEquals(value(f, "exit_message_calls_ended_by_failure_total", { model: "llm" }), 1);
  assertEquals(value(f, "exit_message_job_process_failures_total", { how: "killed" }), 1);
  assertEquals(value(f, "exit_message_job_process_failures_total", { how: "exit_nonzero" }), 1);
  assertEquals(value(f, "exit_message_bye_to_goodbye_heard_seconds"), 1);
  assertEquals(histogramSum(f, "exit_message_goodbye_to_hangup_seconds"), 0.4);
});
