import { assertEquals } from "@std/assert";
import { AgentSession as pb } from "@livekit/protocol";
import { formatLatency, formatMs, latencyFromMetrics, LatencyLog, median } from "./latency.ts";

const report = (m: Partial<pb.MetricsReport>) => new pb.MetricsReport(m);

Deno.test("latency: the agent's metrics report, formatted as LiveKit's consoles do", () => {
  const l = latencyFromMetrics(
    report({ llmNodeTtft: 0.43, ttsNodeTtfb: 0.1204, e2eLatency: 0.812 }),
  );
  assertEquals(formatLatency(l), "llm_ttft 430ms · tts_ttfb 120ms · e2e 812ms");
  assertEquals(formatMs(0.0042), "4.2ms");
  assertEquals(formatLatency(latencyFromMetrics(undefined)), undefined);
  assertEquals(formatLatency(latencyFromMetrics(report({ ttsNodeTtfb: 0.05 }))), "tts_ttfb 50ms");
});

Deno.test("latency: every figure above 1 s is marked, in words and by the decorator", () => {
  const l = { llmTtftS: 1.2, ttsTtfbS: 0.2, e2eS: 1.0001 };
  assertEquals(
    formatLatency(l),
    "llm_ttft 1200ms (slow) · tts_ttfb 200ms · e2e 1000ms (slow)",
  );
  assertEquals(
    formatLatency(l, (s) => `<${s}>`),
    "<llm_ttft 1200ms (slow)> · tts_ttfb 200ms · <e2e 1000ms (slow)>",
  );
  assertEquals(formatLatency({ e2eS: 1 }), "e2e 1000ms");
});

Deno.test("latency: a typed turn's e2e runs from the line sent to the reply's first audio", () => {
  const log = new LatencyLog();
  log.typedTurnSent(1000);
  log.audioArrived(1650);
  log.audioArrived(1700); // later frames of the same reply change nothing
  assertEquals(log.reply(report({ llmNodeTtft: 0.3 })), {
    llmTtftS: 0.3,
    ttsTtfbS: undefined,
    e2eS: 0.65,
  });
  // The agent's own e2e (a spoken turn) wins over the console's measure.
  log.typedTurnSent(2000);
  log.audioArrived(2900);
  assertEquals(log.reply(report({ e2eLatency: 0.5 })).e2eS, 0.5);
  // A reply without a typed line before it (the goodbye after end_session) has no e2e.
  assertEquals(log.reply(report({ ttsNodeTtfb: 0.1 })).e2eS, undefined);
});

Deno.test("latency: when nothing plays the reply (text mode, no sound card) e2e runs to the text shown", () => {
  const log = new LatencyLog();
  log.typedTurnSent(1000);
  log.audioArrived(1300); // synthesized, but nobody hears it
  // The agent's own figure (from the turn's start to its first audio) is not what the user saw.
  const l = log.reply(report({ llmNodeTtft: 0.2, e2eLatency: 0.05 }), undefined, true, 1450);
  assertEquals([l.llmTtftS, l.e2eS], [0.2, 0.45]);
  // Read after the LLM's first token, as the user read it.
  assertEquals(l.e2eS! >= l.llmTtftS!, true);
  // The goodbye that follows has no typed line of its own: no e2e.
  assertEquals(log.reply(report({ ttsNodeTtfb: 0.1 }), undefined, true, 2000).e2eS, undefined);
});

Deno.test("latency: the summary gives each figure's median over the replies that have it", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 2, 3]), 2.5);
  assertEquals(median([]), undefined);
  const log = new LatencyLog();
  assertEquals(log.summary(), undefined);
  log.reply(report({ llmNodeTtft: 0.2, ttsNodeTtfb: 0.1, e2eLatency: 0.9 }));
  log.reply(report({ llmNodeTtft: 0.4, ttsNodeTtfb: 0.3, e2eLatency: 1.5 }));
  log.reply(report({ ttsNodeTtfb: 0.2 }));
  log.reply(report({})); // nothing measured: not a latency turn
  assertEquals(log.turns, 3);
  assertEquals(
    log.summary(),
    "median of 3 replies: llm_ttft 300ms · tts_ttfb 200ms · e2e 1200ms (slow)",
  );
});
