/**
 * The behaviour table of the side-by-side comparison, drawn from the scenario records alone
 * (`room_records.ts`; `room_scenarios.ts` records them): one row per question of issue 11, one
 * column per runtime, each cell the verdict of that runtime's runs in words (a figure is the
 * median over the runs that share the verdict; runs that disagree are listed with their counts).
 * Pure functions.
 *
 * @module
 */
import { END_HEARD } from "../../testing/real_room/caller/heard.ts";
import { BYE } from "../../testing/real_room/real_room.ts";
import { median } from "../stats.ts";
import type { AgentRuntime } from "./room_agent.ts";
import type {
  ByeRecord,
  GoodbyeHeard,
  HangupRecord,
  LlmFailureRecord,
  ScenarioName,
  ScenarioRecord,
  SigtermRecord,
  TalkOverRecord,
} from "./room_records.ts";

/** One run's verdict: words, with `{ms}` (or `{s}`) standing for the run's figure, if any. */
export interface Verdict {
  text: string;
  ms?: number;
}

/** One row of the behaviour table. */
export interface BehaviourRow {
  /** The question, as the table shows it. */
  question: string;
  /** The scenario whose runs answer it. */
  scenario: ScenarioName;
  /** The cell of each runtime that ran ("" when it did not). */
  cells: Partial<Record<AgentRuntime, string>>;
}

const s = (ms: number | undefined) => ms === undefined ? "?" : (ms / 1000).toFixed(1);

/** Fills `{ms}` / `{s}` with a figure. */
export function fill(text: string, ms: number | undefined): string {
  return text.replace("{ms}", ms === undefined ? "?" : String(Math.round(ms)))
    .replace("{s}", s(ms));
}

/**
 * One cell from the verdicts of a runtime's runs: identical texts are merged (their figures'
 * median filled in); when the runs disagree, each text says in how many runs it held.
 */
export function cell(verdicts: Verdict[]): string {
  if (verdicts.length === 0) return "";
  const groups = new Map<string, number[]>();
  for (const v of verdicts) {
    const ms = groups.get(v.text) ?? [];
    if (v.ms !== undefined && Number.isFinite(v.ms)) ms.push(v.ms);
    groups.set(v.text, ms);
  }
  const n = verdicts.length;
  const parts = [...groups].map(([text, ms]) => {
    const count = verdicts.filter((v) => v.text === text).length;
    const filled = fill(text, ms.length ? median(ms) : undefined);
    return groups.size > 1 || n > 1 ? `${filled} (${count}/${n} runs)` : filled;
  });
  return parts.join("; ");
}

function failed(r: ScenarioRecord): Verdict | undefined {
  if (!r.error) return undefined;
  const error = r.error.replace(/ \(worker tail:.*$/, "").slice(0, 120);
  return { text: `not measured (load ${r.load[0]}): ${error}` };
}

function goodbyeWords(g: GoodbyeHeard | undefined): string {
  if (!g || g.synthesizedAt === undefined) return "no goodbye was said";
  if (g.inFull) return "heard in full";
  if (g.found) {
    const end = g.endHeard !== undefined && g.endHeard < END_HEARD ? ", its end missing" : "";
    return `cut (${Math.round((g.coverage ?? 0) * 100)} % of it heard${end})`;
  }
  return "said, but the caller did not hear it";
}

/** Does the tool return, or does the close deadlock? (`bye`) */
export function toolVerdict(r: ByeRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  if (r.toolCalledAt === undefined) {
    return {
      text: r.transcribed.includes(BYE)
        ? `the LLM never called end_session (bye said ${r.byeTries ?? 0} time(s))`
        : `the bye was never transcribed (said ${r.byeTries ?? 0} time(s); load ${r.load[0]})`,
    };
  }
  if (r.sessionClosedAt !== undefined) {
    return {
      text: "returns; the session closed {s} s after the tool call",
      ms: r.sessionClosedAt - r.toolCalledAt,
    };
  }
  const waited = `${s(r.silenceFrom + r.silenceBoundMs - r.toolCalledAt)} s after the tool call`;
  const inDrain = r.stuck.some((t) =>
    t.awaits.some((a) => /end_session/.test(a)) && t.awaits.some((a) => /\bdrain\b/.test(a))
  );
  return {
    text: inDrain
      ? `deadlock: the session never closed; ${waited} end_session was still awaiting session.drain()`
      : `the session never closed (waited ${waited})`,
  };
}

/** Is "Goodbye!" heard in full? (`bye`) */
export function goodbyeVerdict(r: ByeRecord): Verdict {
  return failed(r) ?? { text: goodbyeWords(r.goodbye) };
}

/** Does the job end and the room get deleted after the goodbye? (`bye`) */
export function endingVerdict(r: ByeRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  if (r.disconnect && !r.roomListed && r.jobEnded) {
    return { text: `yes: room deleted (${r.disconnect.reason}), job ended` };
  }
  const parts = [
    r.roomListed ? "room still there" : "room deleted",
    r.jobEnded ? "job ended" : "job still running",
  ];
  const when = `${s(r.silenceBoundMs)} s after the goodbye`;
  let after = "";
  if (r.afterHangup) {
    after = r.afterHangup.jobEndedMs !== undefined
      ? "; once the caller hung up, the job ended {s} s later"
      : `; once the caller hung up, the job was still running ${s(r.afterHangup.boundMs)} s later`;
  }
  const crash = r.crash ? `; the job process crashed (${r.crash})` : "";
  return {
    text: `no: ${when}, ${parts.join(", ")}${crash}${after}`,
    ms: r.afterHangup?.jobEndedMs,
  };
}

/** How long does the caller wait in silence before it is disconnected? (`bye`) */
export function silenceVerdict(r: ByeRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  if (r.disconnect) {
    return {
      text: `{ms} ms, then ${r.disconnect.reason}`,
      ms: r.disconnect.at - r.silenceFrom,
    };
  }
  return { text: `never, within the ${s(r.silenceBoundMs)} s waited` };
}

/** When the caller hangs up first, is a goodbye synthesized anyway? (`hangup_first`) */
export function hangupVerdict(r: HangupRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  const said = r.goodbyeAfterHangup
    ? "yes, for nobody (synthesized, paid, unheard)"
    : "no, skipped";
  const job = r.jobEndedMs !== undefined
    ? "; the job ended {s} s after the hang-up"
    : `; the job was still running ${s(r.boundMs)} s after the hang-up`;
  return { text: said + job, ms: r.jobEndedMs };
}

/** SIGTERM during a call. (`sigterm`) */
export function sigtermVerdict(r: SigtermRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  const call = `the call went on; bye: goodbye ${goodbyeWords(r.goodbye)}, ${
    r.disconnect ? `caller disconnected (${r.disconnect.reason})` : "caller never disconnected"
  }`;
  const e = r.exit;
  if (!e) return { text: `${call}; worker exit not observed` };
  if (e.forced) {
    const stuck = r.stuck.some((t) => t.awaits.some((a) => /\bdrain\b/.test(a)))
      ? ", its job stuck in end_session's drain"
      : "";
    return {
      text: `${call}; the worker had not exited ${
        s(r.exitBoundMs)
      } s after the goodbye${stuck} (killed)`,
    };
  }
  return {
    text: `${call}; the worker exited ${e.code} {s} s after the signal, ${
      e.leftovers ? `${e.leftovers} process(es) left behind` : "nothing left behind"
    }`,
    ms: e.afterSignalMs,
  };
}

/** The LLM failing on the bye. (`llm_fails`) */
export function llmFailureVerdict(r: LlmFailureRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  const heard = r.saidAfterFailure.length
    ? `the agent said "${r.saidAfterFailure.join(" ")}"`
    : "the caller heard nothing";
  const ended = r.disconnect
    ? `, and the call ended (${r.disconnect.reason})`
    : r.sessionClosedAt !== undefined
    ? ", the session closed, the caller stayed connected"
    : ", the call went on";
  let retry = "";
  if (r.retry) {
    retry = r.retry.toolCalled
      ? `; with the LLM back, bye again: goodbye ${goodbyeWords(r.retry.goodbye)}, ${
        r.retry.disconnect
          ? `call ended (${r.retry.disconnect.reason})`
          : "caller never disconnected"
      }`
      : "; with the LLM back, bye again: end_session not called";
  }
  return {
    text: `${r.failedRequests} failed LLM requests in ${s(r.windowMs)} s; ${heard}${ended}${retry}`,
  };
}

/** The user speaking during the goodbye. (`talk_over`) */
export function talkOverVerdict(r: TalkOverRecord): Verdict {
  const f = failed(r);
  if (f) return f;
  const goodbye = `goodbye ${goodbyeWords(r.goodbye)}`;
  const answer = r.saidAfterQuestion.length
    ? `the question was answered ("${r.saidAfterQuestion.join(" ")}")`
    : r.answerRequested
    ? "the question went to the LLM (paid), no answer spoken"
    : r.questionTranscribed
    ? "the question was transcribed, not answered"
    : "the question was not transcribed, not answered";
  const end = r.disconnect
    ? `call ended (${r.disconnect.reason})${r.question?.cut ? " while the caller spoke" : ""}`
    : `caller never disconnected (${s(r.silenceBoundMs)} s)`;
  return { text: `${goodbye}; ${answer}; ${end}` };
}

/** Rooms it took until an agent came, per run. */
export function dispatchVerdict(records: ScenarioRecord[]): string {
  return records.map((r) => `${r.scenario} ${r.dispatchTries || "none"}`).join(", ");
}

type Of<K extends ScenarioName> = Extract<ScenarioRecord, { scenario: K }>;

/** The questions, each answered by one scenario's records. */
export const QUESTIONS: {
  [K in ScenarioName]: { question: string; verdict: (r: Of<K>) => Verdict }[];
} = {
  bye: [
    { question: "`end_session` returns, or the close deadlocks", verdict: toolVerdict },
    { question: '"Goodbye!" heard in full by the caller', verdict: goodbyeVerdict },
    { question: "the job ends and the room is deleted after the goodbye", verdict: endingVerdict },
    {
      question: "the caller's silence after the goodbye until it is disconnected",
      verdict: silenceVerdict,
    },
  ],
  hangup_first: [
    {
      question: "the caller hangs up first: a goodbye synthesized anyway?",
      verdict: hangupVerdict,
    },
  ],
  sigterm: [{ question: "SIGTERM to the worker during a call, then bye", verdict: sigtermVerdict }],
  llm_fails: [{
    question: "the LLM fails on the bye (HTTP 500, every request)",
    verdict: llmFailureVerdict,
  }],
  talk_over: [
    {
      question: "the caller speaks during the goodbye (a question from its synthesis on)",
      verdict: talkOverVerdict,
    },
  ],
};

/** The behaviour table's rows from every record of a run. */
export function behaviourRows(records: ScenarioRecord[], runtimes: AgentRuntime[]): BehaviourRow[] {
  const rows: BehaviourRow[] = [];
  for (const scenario of Object.keys(QUESTIONS) as ScenarioName[]) {
    for (
      const q of QUESTIONS[scenario] as {
        question: string;
        verdict: (r: ScenarioRecord) => Verdict;
      }[]
    ) {
      const cells: Partial<Record<AgentRuntime, string>> = {};
      for (const rt of runtimes) {
        const mine = records.filter((r) => r.scenario === scenario && r.runtime === rt);
        cells[rt] = cell(mine.map(q.verdict));
      }
      if (Object.values(cells).some((c) => c)) rows.push({ question: q.question, scenario, cells });
    }
  }
  const tries: Partial<Record<AgentRuntime, string>> = {};
  for (const rt of runtimes) {
    tries[rt] = dispatchVerdict(records.filter((r) => r.runtime === rt));
  }
  if (Object.values(tries).some((c) => c)) {
    rows.push({
      question: "fresh rooms until an agent came, per scenario run",
      scenario: "bye",
      cells: tries,
    });
  }
  return rows;
}

/** Display names of the runtimes, as the tables and lists name them. */
export const RUNTIME_NAMES: Record<AgentRuntime, string> = {
  deno: "This project (Deno)",
  node: "Same code on Node (peer)",
  python: "LiveKit's recipe (Python)",
};

/**
 * The behaviour answers as Markdown: per question, its words in bold and one line per runtime
 * (a list rather than a table: the answers are sentences, and a table of them runs far wider
 * than a page).
 */
export function behaviourList(rows: BehaviourRow[], runtimes: AgentRuntime[]): string {
  if (rows.length === 0) return "- (no scenario ran)";
  return rows.map((r) =>
    [
      `**${r.question}**`,
      "",
      ...runtimes.map((rt) => `- ${RUNTIME_NAMES[rt]}: ${r.cells[rt] || "n/a"}`),
    ].join("\n")
  ).join("\n\n");
}
