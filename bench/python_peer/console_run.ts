/**
 * The recipe's own exit flow, run without a room: the Python peer in console mode (`python -m
 * livekit.agents console exit_message.py --connect-addr`, what `lk agent console` runs), driven by
 * the project's console broker (`console/broker.ts`) over a real socket, with the loopback
 * Inference gateway playing the models. Same broker, same gateway, same scripted LLM and fixed
 * latencies as `bench/console_run.ts` runs for Deno and Node.
 *
 * One "hello" turn, then "goodbye". The LLM answers the goodbye with the `end_session` call alone,
 * so what follows is the recipe's: `end_session` awaits `session.drain()`, then
 * `session.aclose()`; `on_exit` says "Goodbye!". Recorded from the broker's side: when the tool
 * started, whether it ever returned, when the goodbye's audio came and was played, whether the
 * session closed (the agent closes the socket when it does) and the process exited by itself.
 * When nothing has happened for `stuckAfterMs` after the goodbye was played, the run asks the
 * peer where it waits (an asyncio task dump, see `diag/`), then ends it as `lk` does: SIGINT,
 * then, after `SIGINT_GRACE_MS`, everything by PID.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "../../console/broker.ts";
import { startGateway, ttsDurationMs } from "../../simulation/mod.ts";
import { benchBrain, LATENCY, TimedPlayout } from "../console_run.ts";
import { killPids, TreeSampler } from "../proc.ts";
import { type PeerProcess, startPythonConsole, type TaskDump } from "./launcher.ts";
import type { PythonPeer } from "./setup.ts";

/** How long `lk` waits after SIGINT before SIGKILL; the run does the same. */
export const SIGINT_GRACE_MS = 5_000;

/** One await chain of a task that was still pending when the run gave up waiting. */
export interface StuckTask {
  task: string;
  /** Innermost frames of its await chain (file:line function), innermost last. */
  awaits: string[];
}

/** What one console run of the Python peer observed (ms from the "goodbye" unless named). */
export interface PythonConsoleRun {
  /** Launch to the agent's TCP connection accepted by the broker. */
  coldStartMs: number;
  /** "goodbye" sent to `end_session` starting (tool execution event). */
  byeToToolStartMs?: number;
  /** True when the tool returned (`function_tools_executed` reached the broker). */
  toolReturned: boolean;
  /** "goodbye" sent to the tool's return, when it returned. */
  byeToToolReturnMs?: number;
  /** "goodbye" sent to the goodbye's first audio frame at the broker. */
  byeToGoodbyeAudioMs?: number;
  /** Same, minus the gateway's fixed latencies on that path (comparable to the Deno figure 3f). */
  frameworkByeToAudioMs?: number;
  /** Length of the goodbye audio the broker received. */
  goodbyeAudioMs: number;
  /** Length of the audio the gateway synthesized for "Goodbye!". */
  goodbyeSynthesizedMs: number;
  /** True when the goodbye's playout was acknowledged (played in full to the broker). */
  goodbyePlayed: boolean;
  /** True when the agent closed the socket by itself (its session closed). */
  sessionClosed: boolean;
  /** Goodbye playout acknowledged to the socket closed, when it closed. */
  ackToSocketClosedMs?: number;
  /** True when the process exited without being signalled. */
  exitedByItself: boolean;
  /** How it ended: `exited`, `sigint` (exited within the grace) or `killed`. */
  ending: "exited" | "sigint" | "killed";
  /** Exit code of the agent (128 + signal when a signal ended it). */
  exitCode: number;
  /** How long the run waited for a close after the goodbye was played, when none came. */
  waitedMs?: number;
  /** What the gateway's TTS was asked to say, in order. */
  said: string[];
  /** Pending tasks of the `end_session` chain at the give-up point (empty when it closed). */
  stuck: StuckTask[];
  /** Marks after the "goodbye" was sent, ms from it. */
  timeline: [number, string][];
  /** Peak RSS (VmHWM) of the agent process, KiB (it runs the job in a thread of itself). */
  peakRssKiB: number;
}

/** The tasks of a dump that belong to the exit flow (tool, drain, close, reply, on_exit). */
export function exitFlowTasks(dump: TaskDump): StuckTask[] {
  const relevant = /end_session|drain|aclose|on_exit|_pause_scheduling|pipeline_reply|execute/;
  return dump.filter((t) => relevant.test(t.task) || t.awaits.some((a) => relevant.test(a)))
    .map((t) => ({ task: t.task, awaits: t.awaits.slice(-8) }));
}

/**
 * Runs one console session of the recipe; bounded by `timeoutMs` overall and `stuckAfterMs`
 * of silence after the goodbye. Ends everything it started.
 */
export async function pythonConsoleRun(
  peer: PythonPeer,
  opts: { stuckAfterMs?: number; timeoutMs?: number } = {},
): Promise<PythonConsoleRun> {
  const stuckAfterMs = opts.stuckAfterMs ?? 20_000;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const key = "bench-key";
  const secret = crypto.randomUUID();
  const gw = await startGateway({
    llm: benchBrain(),
    apiKey: key,
    apiSecret: secret,
    latency: LATENCY,
  });
  const listener = listenBroker(0);
  const port = (listener.addr as Deno.NetAddr).port;
  const playout = new TimedPlayout({ sampleRate: WIRE_SAMPLE_RATE });
  let agent: PeerProcess | undefined;
  let sampler: TreeSampler | undefined;
  let broker: BrokerSession | undefined;
  const deadline = setTimeout(() => void agent?.kill(), timeoutMs);
  try {
    agent = startPythonConsole(peer, {
      connectAddr: `127.0.0.1:${port}`,
      apiKey: key,
      apiSecret: secret,
      inferenceUrl: gw.url,
      diagnostics: true,
    });
    const c = agent.child;
    sampler = new TreeSampler(c.pid);
    const accepted = await Promise.race([listener.accept(), c.exited.then(() => undefined)]);
    const connectedAt = performance.now();
    if (!accepted) throw new Error(`agent exited before connecting:\n${c.tail()}`);
    listener.close();

    let toolStartAt: number | undefined;
    let toolReturnAt: number | undefined;
    const listening = new Set<() => void>();
    broker = new BrokerSession(accepted, playout, {
      onEvent: (ev: pb.AgentSessionEvent) => {
        const e = ev.event;
        if (
          e.case === "toolExecutionUpdated" && e.value.update.case === "started" &&
          e.value.update.value.functionCall?.name === "end_session"
        ) toolStartAt ??= performance.now();
        if (
          e.case === "functionToolsExecuted" &&
          e.value.functionCalls.some((f) => f.name === "end_session")
        ) toolReturnAt ??= performance.now();
        if (e.case === "agentStateChanged" && e.value.newState === pb.AgentState.AS_LISTENING) {
          for (const f of listening) f();
        }
      },
    });
    const closedAt = broker.closed.then(() => performance.now());
    await broker.updateIo({ audioIn: false, audioOut: true });
    await broker.runInput("hello", timeoutMs);
    const byeAt = performance.now();
    broker.runInput("goodbye", timeoutMs).catch(() => {}); // answered, or cut by the close

    // Wait for the goodbye to be played, then for the close, each bounded.
    const goodbyeAcked = async (): Promise<boolean> => {
      const until = byeAt + stuckAfterMs * 2;
      while (performance.now() < until && !broker!.isClosed && !c.done) {
        const u = playout.utterances.find((u) => (u.firstFrameAt ?? 0) > byeAt && u.played);
        if (u && gw.synthesized().includes("Goodbye!")) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    await goodbyeAcked();
    const quietFrom = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      closedAt.then((t) => ({ t })),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), stuckAfterMs)),
    ]);
    clearTimeout(timer);
    let stuck: StuckTask[] = [];
    let ending: PythonConsoleRun["ending"] = "exited";
    let exitedByItself = false;
    if (closed) {
      const exited = await Promise.race([
        c.exited.then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), stuckAfterMs)),
      ]);
      clearTimeout(timer);
      exitedByItself = exited;
    } else {
      const dumps = await agent.taskDump(c.pid);
      stuck = dumps.flatMap(exitFlowTasks);
    }
    const waitedMs = closed ? undefined : performance.now() - quietFrom;
    if (!exitedByItself) {
      const stop = await agent.stop("SIGINT", SIGINT_GRACE_MS);
      ending = stop.forced ? "killed" : "sigint";
    }
    const exit = await c.exited;
    sampler.sample();
    sampler.stop();

    const goodbye = playout.utterances.filter((u) => (u.firstFrameAt ?? 0) > byeAt).pop();
    const said = gw.synthesized();
    const first = goodbye?.firstFrameAt;
    const goodbyeText = [...gw.log].reverse().find((e) =>
      e.kind === "tts_transcript" && e.text === "Goodbye!"
    );
    const llmWaits = first === undefined
      ? 0
      : gw.log.filter((e) => e.kind === "llm_request" && e.t >= byeAt && e.t <= first).length *
        LATENCY.llmFirstTokenMs;
    const ttsWaits = first !== undefined && goodbyeText && goodbyeText.t >= byeAt &&
        first - goodbyeText.t >= LATENCY.ttsFirstAudioMs
      ? LATENCY.ttsFirstAudioMs
      : 0;
    const rel = (t: number | undefined) => (t === undefined ? undefined : t - byeAt);
    const closeT = closed?.t;
    return {
      coldStartMs: connectedAt - c.startedAt,
      byeToToolStartMs: rel(toolStartAt),
      toolReturned: toolReturnAt !== undefined,
      byeToToolReturnMs: rel(toolReturnAt),
      byeToGoodbyeAudioMs: rel(first),
      frameworkByeToAudioMs: first === undefined ? undefined : first - byeAt - llmWaits - ttsWaits,
      goodbyeAudioMs: goodbye ? (goodbye.samples / WIRE_SAMPLE_RATE) * 1000 : 0,
      goodbyeSynthesizedMs: said.includes("Goodbye!") ? ttsDurationMs("Goodbye!") : 0,
      goodbyePlayed: goodbye?.played === true,
      sessionClosed: closed !== undefined,
      ackToSocketClosedMs: closeT !== undefined && goodbye?.ackAt !== undefined
        ? closeT - goodbye.ackAt
        : undefined,
      exitedByItself,
      ending,
      exitCode: exit.status.signal
        ? 128 + (exit.status.signal === "SIGINT" ? 2 : 9)
        : exit.status.code,
      waitedMs,
      said,
      stuck,
      timeline: ([
        ...gw.log.filter((e) => e.t >= byeAt).map((e): [number, string] => [
          e.t - byeAt,
          `gateway ${e.kind}${"text" in e ? ` ${JSON.stringify(e.text)}` : ""}`,
        ]),
        ...(toolStartAt ? [[toolStartAt - byeAt, "broker end_session started"]] : []),
        ...(toolReturnAt ? [[toolReturnAt - byeAt, "broker end_session returned"]] : []),
        ...(first ? [[first - byeAt, "broker first goodbye frame"]] : []),
        ...(goodbye?.ackAt ? [[goodbye.ackAt - byeAt, "broker goodbye ack sent"]] : []),
        ...(closeT ? [[closeT - byeAt, "broker socket closed"]] : []),
        [exit.t - byeAt, `agent exited (${ending})`],
      ] as [number, string][]).sort((a, b) => a[0] - b[0])
        .map(([t, w]): [number, string] => [Math.round(t * 10) / 10, w]),
      peakRssKiB: sampler.seen.get(c.pid)?.hwmKiB ?? 0,
    };
  } catch (e) {
    throw new Error(`python console run failed: ${(e as Error).message}\n${agent?.child.tail(20)}`);
  } finally {
    clearTimeout(deadline);
    sampler?.stop();
    try {
      listener.close();
    } catch { /* closed */ }
    await broker?.close();
    await playout.close();
    await agent?.kill();
    if (sampler) killPids(sampler.seen.keys());
    await gw.close();
  }
}
