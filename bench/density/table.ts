/**
 * How a density result reads: a header (date, machine, command, load), per level a cost table
 * (cores, memory, the callers' cores, what a 2-core worker would hold) and a behaviour table
 * (replies, goodbyes, endings, rooms, jobs, the verdict), this project beside the recipe at the
 * same N, and a summary. Tables keep within 120 columns (`bench/doc_blocks.ts`): short headers,
 * the words in a legend under each.
 *
 * @module
 */
import { HEADROOM, WORKER_CORES } from "./figures.ts";
import { type DensityResult, levelOf, type RuntimeResult } from "./result.ts";
import type { LevelSamples } from "./samples.ts";
import { P95_FACTOR } from "./verdict.ts";

const fixed = (x: number, digits: number) => Number.isFinite(x) ? x.toFixed(digits) : "n/a";
const whole = (x: number) => fixed(x, 0);
const load = (l: number[]) => fixed(l[0], 2);

/** The cost of each level: CPU and memory per call, the callers' CPU, the 2-core capacity. */
export function costTable(runtimes: RuntimeResult[]): string {
  const lines = [
    "| Agent | N | Load ¹ | Cores/call ² | CPU s/call | PSS/call ³ | RSS/call ³ | Callers ⁴ | Fits ⁵ |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of runtimes) {
    for (const l of r.levels) {
      const f = l.figures;
      lines.push(
        `| ${r.label} | ${l.n} | ${load(l.load.start)}→${load(l.load.end)} | ${
          fixed(f.coresPerCallTalk, 3)
        } / ${fixed(f.coresPerCallWhole, 3)} | ${fixed(f.cpuSecondsPerCall, 1)} | ${
          whole(f.pssPerCallMiB)
        } | ${whole(f.rssPerCallMiB)} | ${fixed(f.callersCores, 2)} | ${
          whole(f.capacity.byCpu)
        } / ${whole(f.capacity.byMemory)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** How far the level's VAD fell behind real time, s ("n/a" when the level did not say). */
function vadLate(l: LevelSamples): string {
  return l.vadLate ? fixed(l.vadLate.maxDelayMs / 1000, 1) : "n/a";
}

/** What each level's calls did, and whether it held. */
export function behaviourTable(runtimes: RuntimeResult[]): string {
  const lines = [
    "| Agent | N | Reply ⁶ | VAD late ⁷ | Goodbyes ⁸ | Bye→gone ⁹ | Done ¹⁰ | Rooms ¹¹ | Jobs ¹² | Holds |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of runtimes) {
    for (const l of r.levels) {
      const f = l.figures;
      const gone = f.goodbyeToGoneMs.n
        ? `${whole(f.goodbyeToGoneMs.median)} (${whole(f.goodbyeToGoneMs.max)})`
        : "never";
      lines.push(
        `| ${r.label} | ${l.n} | ${whole(f.replyP50Ms)} / ${whole(f.replyP95Ms)} | ${
          vadLate(l)
        } | ${f.goodbyesInFull} of ${l.n} | ${gone} | ${f.completed} / ${f.endedByAgent} | ${l.roomsLeft} | ${l.jobsEnded} of ${l.jobsAssigned} | ${
          l.verdict.holds ? "yes" : "no"
        } |`,
      );
    }
  }
  return lines.join("\n");
}

/** This project beside the recipe at each N both ran: cost per call, and who is ahead. */
export function sideBySide(runtimes: RuntimeResult[]): string | undefined {
  const ours = runtimes.find((r) => r.runtime === "deno");
  const recipe = runtimes.find((r) => r.runtime === "recipe");
  if (!ours || !recipe) return undefined;
  const ns = ours.levels.map((l) => l.n).filter((n) => levelOf(recipe, n));
  if (ns.length === 0) return undefined;
  const lines = [
    "| N | Cores/call talking: this / recipe | PSS/call (MiB): this / recipe | This project ahead on |",
    "| --- | --- | --- | --- |",
  ];
  for (const n of ns) {
    const a = levelOf(ours, n)!.figures;
    const b = levelOf(recipe, n)!.figures;
    const cpu = a.coresPerCallTalk < b.coresPerCallTalk;
    const mem = a.pssPerCallMiB < b.pssPerCallMiB;
    const ahead = cpu && mem ? "both" : cpu ? "CPU only" : mem ? "memory only" : "neither";
    lines.push(
      `| ${n} | ${fixed(a.coresPerCallTalk, 3)} / ${fixed(b.coresPerCallTalk, 3)} | ${
        whole(a.pssPerCallMiB)
      } / ${whole(b.pssPerCallMiB)} | ${ahead} |`,
    );
  }
  return lines.join("\n");
}

/** One line per runtime: the largest N held, the cost there and at 6 calls, the capacity. */
export function summaryLines(result: DensityResult): string[] {
  return result.runtimes.map((r) => {
    const held = levelOf(r, r.maxHeldN);
    const at = (n: number) => {
      const l = levelOf(r, n);
      return l
        ? `at ${n} call(s) ${fixed(l.figures.coresPerCallTalk, 3)} cores and ${
          whole(l.figures.pssPerCallMiB)
        } MiB PSS per call`
        : undefined;
    };
    const parts = [
      `- **${r.label}**: largest N held **${r.maxHeldN}** (reply p95 ≤ ${P95_FACTOR} × ${
        whole(r.baselineP95Ms)
      } ms)`,
      at(6),
      held && r.maxHeldN !== 6 ? at(r.maxHeldN) : undefined,
      held
        ? `by its cost at ${r.maxHeldN}, a ${WORKER_CORES}-core worker holds ${
          whole(held.figures.capacity.byCpu)
        } calls by CPU and ${whole(held.figures.capacity.byMemory)} by memory (${
          result.memoryBudgetMiB / 1024
        } GiB)`
        : undefined,
    ].filter(Boolean);
    return `${parts.join("; ")}.`;
  });
}

/** Why each level that did not hold did not, one line each. */
export function whyLines(runtimes: RuntimeResult[]): string[] {
  return runtimes.flatMap((r) =>
    r.levels.filter((l) => !l.verdict.holds).map((l) => `- ${r.label}, ${l.n}: ${l.verdict.why}`)
  );
}

/** The legend of both tables. */
export function legend(result: DensityResult): string {
  const gib = result.memoryBudgetMiB / 1024;
  return [
    "- ¹ 1-minute load average at the level's start → end (the machine is shared).",
    `- ² Worker tree CPU (main, inference, job or host processes, reaped children included) per call: over the ${result.talkSeconds} s while every call talked / over the whole call.`,
    "- ³ (Peak tree PSS or RSS during the calls − idle before them) / N, MiB; PSS splits shared pages among the processes sharing them.",
    `- ⁴ The callers' processes (${result.callersPerProcess} callers each), cores in all, while the calls talked: they share the machine's cores with the worker.`,
    `- ⁵ Calls a ${WORKER_CORES}-core worker with ${gib} GiB holds at this level's cost (CPU / memory): ${WORKER_CORES} × ${HEADROOM} cores / talking cores per call, and (${HEADROOM} × ${gib} GiB − idle tree PSS) / PSS per call.`,
    "- ⁶ Reply latency p50 / p95, ms: the caller's end of speech → first agent audio, every turn (hello and the questions).",
    '- ⁷ How far behind real time the agent\'s VAD fell, at most, s (its "slower than realtime" warnings).',
    "- ⁸ Goodbyes heard in full at the caller (its recording matched against what the simulation synthesized).",
    `- ⁹ Goodbye's end as heard → caller disconnected, ms, median (max); "never": not within ${
      result.silenceMs / 1000
    } s, then the caller hung up.`,
    "- ¹⁰ Calls that ran to their bye without an error / calls the agent ended (the caller disconnected with `ROOM_DELETED`).",
    "- ¹¹ The level's rooms the server still held once its calls were over (5 s allowed for the agent's deletions).",
    "- ¹² Jobs the server saw end, of those it assigned for the level's rooms.",
  ].join("\n");
}

/** The block as printed and written to docs/density.md. */
export function renderDensity(result: DensityResult): string {
  const m = result.machine;
  const v = result.versions;
  const header = [
    `Date: ${
      result.date.slice(0, 16).replace("T", " ")
    } UTC · machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}`,
    `Runtimes: ${
      Object.entries(v).map(([k, x]) => `${k} ${x}`).join(" · ")
    } · load average at start ${result.loadavg.start.join(" ")}, at end ${
      result.loadavg.end.join(" ")
    } · wall time ${Math.round(result.wallSeconds / 60)} min`,
    `Command: \`${result.command}\` · each call talks ${result.talkSeconds} s · ${
      result.staggerMs ? `calls join ${result.staggerMs} ms apart` : "calls join all at once"
    } · simulated LLM first token ${result.modelLatency.llmFirstTokenMs} ms, TTS first audio ${result.modelLatency.ttsFirstAudioMs} ms`,
  ].join("  \n");
  const agents = result.runtimes.map((r) => `- ${r.label}: ${r.what}`).join("\n");
  const side = sideBySide(result.runtimes);
  const why = whyLines(result.runtimes);
  const recipe = result.runtimes.find((r) => !r.endsCalls);
  return [
    header,
    agents,
    "**Summary**",
    summaryLines(result).join("\n"),
    "**Cost per level**",
    costTable(result.runtimes),
    "**What the calls did**",
    behaviourTable(result.runtimes),
    legend(result),
    ...(side ? ["**Side by side at the same N**", side] : []),
    ...(why.length ? ["Why a level did not hold:", why.join("\n")] : []),
    ...(result.notes?.length ? [result.notes.map((n) => `- ${n}`).join("\n")] : []),
    ...(recipe
      ? [
        `The recipe never ends its calls (its \`end_session\` deadlocks, see [comparison](comparison.md)): its levels are judged on calls answered, goodbyes heard in full and reply p95; its callers hang up ${
          result.silenceMs / 1000
        } s after the goodbye, and its jobs stay until its worker is ended after the level.`,
      ]
      : []),
  ].join("\n\n");
}
