/**
 * `GET /metrics` during and after real-room calls: `main.ts start` against the real
 * livekit-server, real callers, the real agent in real job processes. Each scrape is parsed with a
 * Prometheus text-format parser (`testing/prometheus.ts`), and the values must move as the calls
 * go: a bye, a hang-up, a failed LLM turn, a forced ending. The job processes count nothing
 * themselves: every value here was reported by a job process to the main process and summed
 * there.
 */
import { MAX_GOODBYE_TIMEOUT_MS } from "../core/bounds.ts";
import { assert, assertEquals } from "@std/assert";
import { fromFileUrl } from "../testing/paths.ts";
import { histogramSum, type Scrape, scrape, value } from "../testing/prometheus.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import {
  BYE,
  jobFinished,
  QUESTION,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import type { WorkerProcess } from "../testing/real_room/worker_process.ts";
import { until } from "../testing/wait.ts";
import { OFFLINE_GOODBYE_TEXT } from "../simulation/mod.ts";
import { SHORT_CLOSE_MS } from "./testdata/short_close_agent.ts";

/** The health port the worker logged (it was started with `--port 0`). */
async function healthPort(worker: WorkerProcess): Promise<number> {
  const line = await worker.waitForLine(/health and metrics on port \d+/, 10_000);
  return Number(line.match(/on port (\d+)/)![1]);
}

/** Scrapes until `check` holds (the job reports asynchronously), then returns that scrape. */
function scrapeUntil(port: number, what: string, check: (s: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | undefined;
  return until(
    async () => {
      last = await scrape(port);
      return check(last) ? last : undefined;
    },
    20_000,
    `/metrics to show ${what}; last scrape: ${JSON.stringify(last ?? {}).slice(0, 2000)}`,
  );
}

realRoomTest(
  "real room: /metrics moves with the calls: a bye, a hang-up, a failed LLM turn (parsed by a Prometheus parser)",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const port = await healthPort(worker);

    // Before any call: the Python SDK's worker metrics, no call yet.
    let s = await scrapeUntil(
      port,
      "the idle process initialized",
      (s) => value(s, "lk_agents_proc_initialize_duration_seconds") >= 1,
    );
    assertEquals(value(s, "exit_message_calls_started_total"), 0);
    assertEquals(value(s, "lk_agents_active_job_count"), 0);
    assert(value(s, "lk_agents_child_process_count") >= 1, "the idle job process is counted");
    assert(value(s, "exit_message_processes", { role: "job" }) >= 1);
    assert(value(s, "exit_message_process_pss_bytes", { role: "job" }) > 0);
    // The health endpoint still answers as agents-js does, on the same port.
    const health = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals([health.status, await health.text()], [200, "OK"]);
    const info = await fetch(`http://127.0.0.1:${port}/worker`);
    assertEquals(info.status, 200);
    assertEquals((await info.json()).active_jobs, 0);

    // 1. A bye: the call is active while it talks, then ends with end_session, goodbye played.
    const first = await room.call();
    await helloExchange(room, first);
    s = await scrapeUntil(
      port,
      "one active call with a turn",
      (s) =>
        value(s, "exit_message_calls_active") === 1 &&
        value(s, "exit_message_reply_latency_seconds", { decided_by: "vad" }) >= 1,
    );
    assertEquals(value(s, "lk_agents_active_job_count"), 1);
    assertEquals(value(s, "exit_message_calls_started_total"), 1);
    const bye = await sayHeard(room, first, BYE);
    await goodbyeHeard(room, first, bye.endAt);
    assertEquals((await first.disconnected(30_000)).reason, "ROOM_DELETED");
    s = await scrapeUntil(
      port,
      "the bye call ended with its goodbye heard and the caller hung up",
      (s) =>
        value(s, "exit_message_calls_ended_total", { end_reason: "end_session" }) === 1 &&
        value(s, "exit_message_goodbye_to_hangup_seconds") === 1,
    );
    assertEquals(value(s, "exit_message_calls_active"), 0);
    assertEquals(value(s, "exit_message_goodbye_total", { outcome: "played" }), 1);
    assertEquals(value(s, "exit_message_bye_to_goodbye_heard_seconds"), 1);
    const byeToHeard = histogramSum(s, "exit_message_bye_to_goodbye_heard_seconds");
    assert(byeToHeard > 0.5 && byeToHeard < 15, `bye to goodbye heard: ${byeToHeard} s`);
    const hangup = histogramSum(s, "exit_message_goodbye_to_hangup_seconds");
    assert(hangup >= 0 && hangup < 10, `goodbye end to hang-up: ${hangup} s`);

    // 2. A hang-up: no goodbye, end_reason participant_disconnected.
    const second = await room.call();
    await helloExchange(room, second);
    await second.hangup();
    s = await scrapeUntil(
      port,
      "the hang-up",
      (s) =>
        value(s, "exit_message_calls_ended_total", { end_reason: "participant_disconnected" }) ===
          1,
    );
    assertEquals(value(s, "exit_message_goodbye_total", { outcome: "skipped" }), 1);
    assertEquals(value(s, "exit_message_calls_started_total"), 2);

    // 3. A failed LLM turn: counted by kind, with its apology; the call goes on and ends by bye.
    const third = await room.call();
    await helloExchange(room, third);
    room.gateway.faults.llm = "error";
    await sayHeard(room, third, QUESTION);
    s = await scrapeUntil(
      port,
      "the failed LLM turn",
      (s) => value(s, "exit_message_failed_turns_total", { kind: "llm" }) === 1,
    );
    assertEquals(value(s, "exit_message_apologies_total"), 1);
    delete room.gateway.faults.llm;
    const bye3 = await sayHeard(room, third, BYE);
    await goodbyeHeard(room, third, bye3.endAt);
    s = await scrapeUntil(
      port,
      "the third call ended",
      (s) => value(s, "exit_message_calls_ended_total", { end_reason: "end_session" }) === 2,
    );
    assertEquals(value(s, "exit_message_calls_ended_by_failure_total"), 0);
    assertEquals(value(s, "exit_message_calls_active"), 0);

    // Every job so far ended cleanly once its call was over (in its call host, or its process).
    await jobFinished(worker, await sessionEnded(worker, third.room, 5_000), 20_000);
    s = await scrape(port);
    assertEquals(value(s, "exit_message_job_process_failures_total"), 0);
    assert(value(s, "exit_message_process_cpu_seconds_total", { role: "job" }) > 0);
    // The scrape, abridged (no buckets, no zero series), as docs/operations.md shows it.
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    console.log(
      text.split("\n").filter((l) =>
        l !== "" && !l.startsWith("#") && !l.includes("_bucket{") && !/ 0$/.test(l)
      ).join("\n"),
    );
    console.log(
      `after 3 calls: bye->goodbye heard ${byeToHeard.toFixed(2)} s, goodbye->hang-up ${
        hangup.toFixed(2)
      } s, reply latency mean ${
        (histogramSum(s, "exit_message_reply_latency_seconds") /
          value(s, "exit_message_reply_latency_seconds")).toFixed(2)
      } s over ${value(s, "exit_message_reply_latency_seconds")} turns`,
    );
  },
);

realRoomTest(
  "real room: /metrics counts a forced ending (close stuck past its bound)",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker(["./short_close_agent.ts", "start"], {
      GOODBYE_TIMEOUT_MS: String(MAX_GOODBYE_TIMEOUT_MS),
    }, {
      script: fromFileUrl(new URL("./testdata/run_agent_worker.ts", import.meta.url)),
      defaults: ["--port", "0", "--num-idle-processes", "1", "--max-jobs", "8"],
    });
    const port = await healthPort(worker);
    const caller = await room.call();
    await sayHeard(room, caller, BYE);
    await room.gateway.waitFor(
      (e) => e.kind === "tts_audio" && e.texts.includes(OFFLINE_GOODBYE_TEXT),
      20_000,
    );
    room.gateway.faults.tts = "never_answer";
    assertEquals((await caller.disconnected(SHORT_CLOSE_MS + 15_000)).reason, "ROOM_DELETED");
    const s = await scrapeUntil(
      port,
      "the forced ending",
      (s) => value(s, "exit_message_forced_endings_total", { reason: "close_timeout" }) === 1,
    );
    assertEquals(value(s, "exit_message_calls_ended_total", { end_reason: "end_session" }), 1);
    assertEquals(value(s, "exit_message_calls_active"), 0);
    // The goodbye never played: the caller did not hear it.
    assertEquals(value(s, "exit_message_goodbye_total", { outcome: "played" }), 0);
  },
);
