/**
 * One console run: the agent's half (`main.ts console --connect-addr`) under one runtime, the
 * broker half (the project's `BrokerSession`) and the Inference stand-in in this process, one
 * "hello" turn, then "goodbye" and the whole hang-up, timed from the broker's side.
 *
 * Every timestamp is `performance.now()` of this process; the stand-in gateway logs with the
 * same clock, so its fixed synthetic latencies can be subtracted exactly.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "../console/broker.ts";
import { Playout } from "../console/playout.ts";
import {
  type GatewayEvent,
  lastTurnMessage,
  messageText,
  offlineBrain,
  soundsLikeGoodbye,
  startGateway,
} from "../simulation/mod.ts";
import { Child, killPids, sleep, TreeSampler } from "./proc.ts";
import { childEnv, type Runtime } from "./runtimes.ts";

/** Fixed synthetic latencies of the stand-in (subtracted from the hang-up figures). */
export const LATENCY = { llmFirstTokenMs: 200, ttsFirstAudioMs: 100 } as const;

/** One utterance as the broker saw it: audio frames between two playout flushes. */
interface Utterance {
  firstFrameAt?: number;
  samples: number;
  flushAt?: number;
  ackAt?: number;
  played?: boolean;
}

/** What one console run measured (ms unless named otherwise). */
export interface ConsoleRun {
  /** Process launch to the agent's TCP connection accepted by the broker. */
  coldStartMs: number;
  /** User's "goodbye" sent (run_input) to `function_tools_executed` (end_session) at the broker. */
  byeToToolMs: number;
  /** end_session executed to the first frame of the goodbye's audio at the broker. */
  toolToGoodbyeAudioMs: number;
  /** First goodbye frame to the broker's playout ack of it (real-time playout of the audio). */
  goodbyePlayoutMs: number;
  /** Length of the goodbye audio itself. */
  goodbyeAudioMs: number;
  /** Goodbye playout acknowledged to the agent closing the socket. */
  ackToSocketClosedMs: number;
  /** Socket closed to the agent process exited. */
  socketClosedToExitMs: number;
  /** "goodbye" sent to the first goodbye audio frame, minus the stand-in's fixed latencies. */
  frameworkByeToAudioMs: number;
  /** Goodbye playout acknowledged to the process exited. */
  ackToExitMs: number;
  /** Stand-in latency subtracted on the "bye" to first-audio path (LLM + TTS). */
  standInOnPathMs: number;
  /** Peak RSS (VmHWM) of the agent process, KiB. */
  peakRssKiB: number;
  /** RSS when it connected (before the session did anything), KiB. */
  connectRssKiB: number;
  /** Peak RSS summed over every process of the agent's tree (when it forked any), KiB. */
  treePeakRssKiB: number;
  /** Processes seen in the agent's tree. */
  processes: number;
  /** Exit status of the agent. */
  exitCode: number;
  /** The agent process's own log, for the `silero VAD loaded` line and debugging. */
  vadLoadMs?: number;
  /** First line of an uncaught error the agent printed while exiting, if any. */
  crash?: string;
  /** What the stand-in TTS was asked to say, in order (the last must be the goodbye). */
  said: string[];
  /** Marks after the "goodbye" was sent, ms from it: stand-in events and broker events. */
  timeline: [number, string][];
}

/**
 * The benchmark's LLM: the offline brain, except that a goodbye is answered with the
 * `end_session` call alone, so the critical path from "goodbye" to the goodbye audio is one
 * LLM request and one synthesis (what the subtraction assumes).
 */
export function benchBrain(): ReturnType<typeof offlineBrain> {
  const base = offlineBrain();
  return (request) => {
    const last = lastTurnMessage(request);
    if (last?.role === "user" && soundsLikeGoodbye(messageText(last))) {
      return { toolCalls: [{ name: "end_session", arguments: "{}" }] };
    }
    // One sentence, one synthesis: every synthesis then gets the stand-in's fixed latency.
    if (last?.role === "user") return { text: "Hello! Nice to hear you." };
    return base(request);
  };
}

/** A playout that also records when each utterance's audio arrived and was flushed. */
export class TimedPlayout extends Playout {
  readonly utterances: Utterance[] = [];
  #open?: Utterance;

  override write(samples: Int16Array): void {
    if (!this.#open) {
      this.#open = { firstFrameAt: performance.now(), samples: 0 };
      this.utterances.push(this.#open);
    }
    this.#open.samples += samples.length;
    super.write(samples);
  }

  override drain(): Promise<boolean> {
    const u = this.#open ?? { samples: 0 };
    if (!this.#open) this.utterances.push(u);
    u.flushAt = performance.now();
    this.#open = undefined;
    return super.drain().then((played) => {
      u.ackAt = performance.now();
      u.played = played;
      return played;
    });
  }
}

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`console run: no ${what}`);
  return v;
}

/** Runs one console session under `rt`; bounded by `timeoutMs`; kills everything it started. */
export async function consoleRun(rt: Runtime, timeoutMs = 60_000): Promise<ConsoleRun> {
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
  let child: Child | undefined;
  let sampler: TreeSampler | undefined;
  let broker: BrokerSession | undefined;
  const playout = new TimedPlayout({ sampleRate: WIRE_SAMPLE_RATE });
  const deadline = setTimeout(() => {
    // The run is stuck: killing the agent unblocks every wait below.
    void child?.kill();
  }, timeoutMs);
  try {
    child = new Child(rt.cmd, [
      ...rt.prefix,
      "console",
      "--connect-addr",
      `127.0.0.1:${port}`,
      "--log-level",
      "debug",
    ], {
      cwd: rt.cwd,
      env: childEnv({
        LIVEKIT_INFERENCE_URL: gw.url,
        LIVEKIT_API_KEY: key,
        LIVEKIT_API_SECRET: secret,
        LIVEKIT_INFERENCE_API_KEY: key,
        LIVEKIT_INFERENCE_API_SECRET: secret,
      }),
    });
    sampler = new TreeSampler(child.pid);
    const accepted = await Promise.race([
      listener.accept(),
      child.exited.then(() => undefined),
    ]);
    const connectedAt = performance.now();
    if (!accepted) throw new Error(`agent exited before connecting:\n${child.tail()}`);
    const connectRss = sampler.sample().find((m) => m.pid === child!.pid)?.rssKiB ?? 0;
    listener.close();

    let toolAt: number | undefined;
    broker = new BrokerSession(accepted, playout, {
      onEvent: (ev: pb.AgentSessionEvent) => {
        const e = ev.event;
        if (
          e.case === "functionToolsExecuted" &&
          e.value.functionCalls.some((c) => c.name === "end_session")
        ) toolAt ??= performance.now();
      },
    });
    const closedAt = broker.closed.then(() => performance.now());
    await broker.updateIo({ audioIn: false, audioOut: true });
    await broker.runInput("hello", timeoutMs);
    await sleep(300); // let the turn settle (state back to listening)
    const byeAt = performance.now();
    broker.runInput("goodbye", timeoutMs).catch(() => {}); // answered or cut by the close
    const socketClosedAt = await closedAt;
    const exit = await child.exited;
    sampler.sample();
    sampler.stop();
    if (Deno.env.get("BENCH_DEBUG")) console.error(child.lines.map((l) => l.line).join("\n"));

    const goodbye = must(
      playout.utterances.filter((u) => u.firstFrameAt !== undefined && u.firstFrameAt > byeAt)
        .pop(),
      "goodbye audio after the bye",
    );
    const said = gw.synthesized();
    if (said[said.length - 1] !== "Goodbye!") {
      throw new Error(`the last synthesis was not the goodbye: ${JSON.stringify(said)}`);
    }
    const tool = must(toolAt, "end_session executed event");
    const first = must(goodbye.firstFrameAt, "first goodbye frame");
    const ack = must(goodbye.played ? goodbye.ackAt : undefined, "acknowledged goodbye playout");
    // Stand-in waits on the path: each LLM request made after the bye and before the goodbye's
    // first frame waited llmFirstTokenMs; the goodbye's synthesis waited ttsFirstAudioMs
    // (checked: its first frame came at least that long after its transcript was sent).
    const llmWaits = gw.log.filter((e: GatewayEvent) =>
      e.kind === "llm_request" && e.t >= byeAt && e.t <= first
    ).length * LATENCY.llmFirstTokenMs;
    const goodbyeText = [...gw.log].reverse().find((e) =>
      e.kind === "tts_transcript" && e.text === "Goodbye!"
    );
    const ttsWaits = goodbyeText && goodbyeText.t >= byeAt &&
        first - goodbyeText.t >= LATENCY.ttsFirstAudioMs
      ? LATENCY.ttsFirstAudioMs
      : 0;
    const standInOnPathMs = llmWaits + ttsWaits;
    const mine = child.pid;
    const own = sampler.seen.get(mine);
    const treePeak = [...sampler.seen.values()].reduce((s, m) => s + m.hwmKiB, 0);
    // pino-pretty in console: the message line, then `    ms: 79` on a line of its own.
    const vadAt = child.lines.findIndex((l) => /silero VAD loaded/.test(l.line));
    const vadText = vadAt >= 0
      ? child.lines.slice(vadAt, vadAt + 4).map((l) => l.line).join("\n")
      : "";
    const vadMs = Number(/\bms["]?:\s*(\d+)/.exec(vadText)?.[1]);
    return {
      coldStartMs: connectedAt - child.startedAt,
      byeToToolMs: tool - byeAt,
      toolToGoodbyeAudioMs: first - tool,
      goodbyePlayoutMs: ack - first,
      goodbyeAudioMs: (goodbye.samples / WIRE_SAMPLE_RATE) * 1000,
      ackToSocketClosedMs: socketClosedAt - ack,
      socketClosedToExitMs: exit.t - socketClosedAt,
      frameworkByeToAudioMs: first - byeAt - standInOnPathMs,
      ackToExitMs: exit.t - ack,
      standInOnPathMs,
      peakRssKiB: own?.hwmKiB ?? 0,
      connectRssKiB: connectRss,
      treePeakRssKiB: treePeak,
      processes: sampler.seen.size,
      exitCode: exit.status.code,
      vadLoadMs: Number.isFinite(vadMs) ? vadMs : undefined,
      crash: child.lines.find((l) => /^\S*Error[ :[]|ERR_[A-Z_]+/.test(l.line))?.line,
      said,
      timeline: ([
        ...gw.log.filter((e) => e.t >= byeAt).map((e): [number, string] => [
          e.t - byeAt,
          `gateway ${e.kind}${"text" in e ? ` ${JSON.stringify(e.text)}` : ""}`,
        ]),
        [tool - byeAt, "broker function_tools_executed"],
        [first - byeAt, "broker first goodbye frame"],
        [ack - byeAt, "broker goodbye ack sent"],
        [socketClosedAt - byeAt, "broker socket closed"],
        [exit.t - byeAt, "agent exited"],
      ] as [number, string][]).sort((a, b) => a[0] - b[0])
        .map(([t, w]): [number, string] => [Math.round(t * 10) / 10, w]),
    };
  } catch (e) {
    throw new Error(`${rt.name} console run failed: ${(e as Error).message}\n${child?.tail(20)}`);
  } finally {
    clearTimeout(deadline);
    sampler?.stop();
    try {
      listener.close();
    } catch { /* closed */ }
    await broker?.close();
    await playout.close();
    await child?.kill();
    if (sampler) killPids(sampler.seen.keys());
    await gw.close();
  }
}
