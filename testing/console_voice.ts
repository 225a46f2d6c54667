/**
 * A spoken console session for tests and benchmarks: the agent's half (`main.ts console
 * --connect-addr`, or the same command line under another runtime) as a real child process, the
 * broker half (`console/broker.ts`) and the loopback Inference simulation in this process, and a
 * microphone that streams the simulation's synthetic voice in 30 ms frames paced in real time,
 * with silence between utterances as a quiet room would have.
 *
 * Every time here is epoch milliseconds (`performance.timeOrigin + performance.now()`), the clock
 * the agent stamps its events with (`Date.now()`), so the broker's, the simulation's and the
 * agent's times compare directly.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import {
  BrokerSession,
  listenBroker,
  MIC_FRAME_SAMPLES,
  WIRE_SAMPLE_RATE,
} from "../console/broker.ts";
import { Playout } from "../console/playout.ts";
import {
  type Gateway,
  type GatewayEvent,
  type GatewayOptions,
  phrasePitches,
  phraseVoice,
  startGateway,
  synthesizeVoice,
} from "../simulation/mod.ts";
import { MAIN } from "./process.ts";
import { bounded } from "./wait.ts";
import { type SpawnOptions, spawnWorker, type WorkerProcess } from "./real_room/worker_process.ts";

/** Epoch milliseconds with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Epoch time of a simulation event (the gateway stamps `performance.now()` of this process). */
export function gatewayEpoch(e: GatewayEvent): number {
  return performance.timeOrigin + e.t;
}

const FRAME_MS = (MIC_FRAME_SAMPLES / WIRE_SAMPLE_RATE) * 1000;

/** One agent event as the broker received it. */
export interface ReceivedEvent {
  /** When the broker read it (epoch ms). */
  at: number;
  /** The agent's own timestamp of the event (epoch ms), when it sent one. */
  createdAt?: number;
  event: pb.AgentSessionEvent;
}

/** One stretch of agent audio at the broker: from its first frame to its flush. */
export interface AgentUtterance {
  /** First audio frame received (epoch ms). */
  firstFrameAt: number;
  /** Samples received at 48 kHz. */
  samples: number;
  /** The agent's flush, when it came. */
  flushAt?: number;
}

/** Options of {@link VoiceConsole.start}. */
export interface VoiceConsoleOptions {
  /** Environment of the agent (TURN_DETECTION, LOG_LEVEL...), on top of the simulation's. */
  env?: Record<string, string>;
  /** Simulation options (phrasebook, latencies, faults, turn detector); keys and brain are set. */
  gateway?: Partial<GatewayOptions>;
  /** How to start the agent's command line (default: `deno run -A main.ts`). */
  spawn?: Pick<SpawnOptions, "cmd" | "prefix" | "cwd">;
  /** Bound on the agent dialling in. */
  connectTimeoutMs?: number;
}

/** A playout that records when each agent utterance started arriving. */
class RecordingPlayout extends Playout {
  readonly utterances: AgentUtterance[] = [];
  #open?: AgentUtterance;

  override write(samples: Int16Array): void {
    if (!this.#open) {
      this.#open = { firstFrameAt: epochMs(), samples: 0 };
      this.utterances.push(this.#open);
    }
    this.#open.samples += samples.length;
    super.write(samples);
  }

  override drain(): Promise<boolean> {
    if (this.#open) this.#open.flushAt = epochMs();
    this.#open = undefined;
    return super.drain();
  }

  override clear(): void {
    this.#open = undefined;
    super.clear();
  }
}

/** A running spoken console session; dispose it to end everything it started. */
export class VoiceConsole {
  readonly gateway: Gateway;
  readonly agent: WorkerProcess;
  readonly broker: BrokerSession;
  readonly events: ReceivedEvent[] = [];
  readonly #playout: RecordingPlayout;
  readonly #queue: Int16Array[] = [];
  #speaking?: { startAt?: number; resolve: (r: { startAt: number; endAt: number }) => void };
  /** The pitch of each phrase of the simulated STT's phrasebook, which recognizes it by that. */
  #pitches = new Map<string, number>();
  #micTimer?: ReturnType<typeof setTimeout>;
  #micStopped = false;
  #waiters = new Set<() => void>();

  private constructor(
    gateway: Gateway,
    agent: WorkerProcess,
    conn: Deno.Conn,
    playout: RecordingPlayout,
  ) {
    this.gateway = gateway;
    this.agent = agent;
    this.#playout = playout;
    this.broker = new BrokerSession(conn, playout, {
      onEvent: (event) => {
        const ts = event.createdAt;
        this.events.push({
          at: epochMs(),
          createdAt: ts ? Number(ts.seconds) * 1000 + ts.nanos / 1e6 : undefined,
          event,
        });
        this.#notify();
      },
      onAudio: () => this.#notify(),
    });
  }

  /** Starts the simulation, the broker and the agent, and waits until the agent dialled in. */
  static async start(options: VoiceConsoleOptions = {}): Promise<VoiceConsole> {
    const key = "voice-console";
    const secret = crypto.randomUUID();
    const gateway = await startGateway({ ...options.gateway, apiKey: key, apiSecret: secret });
    const listener = listenBroker(0);
    const port = (listener.addr as Deno.NetAddr).port;
    const agent = spawnWorker({
      ...options.spawn,
      script: MAIN,
      args: ["console", "--connect-addr", `127.0.0.1:${port}`],
      env: {
        LIVEKIT_INFERENCE_URL: gateway.url,
        LIVEKIT_API_KEY: key,
        LIVEKIT_API_SECRET: secret,
        LIVEKIT_INFERENCE_API_KEY: key,
        LIVEKIT_INFERENCE_API_SECRET: secret,
        LIVEKIT_URL: "",
        ...options.env,
      },
    });
    const timeoutMs = options.connectTimeoutMs ?? 60_000;
    try {
      const conn = await bounded(
        Promise.race([
          listener.accept(),
          agent.exited.then((s) => {
            throw new Error(`the agent exited (${s.code}) before connecting:\n${agent.tail()}`);
          }),
        ]),
        timeoutMs,
        () => `the agent did not connect within ${timeoutMs} ms:\n${agent.tail()}`,
      );
      const playout = new RecordingPlayout({ sampleRate: WIRE_SAMPLE_RATE });
      const session = new VoiceConsole(gateway, agent, conn, playout);
      session.#pitches = phrasePitches(options.gateway?.sttPhrasebook ?? []);
      await bounded(session.broker.firstMessage, 10_000, () => "no first message from the agent");
      session.#startMic();
      return session;
    } catch (error) {
      await agent.stop();
      await gateway.close();
      throw error;
    } finally {
      listener.close();
    }
  }

  /** Agent utterances heard so far. */
  get utterances(): readonly AgentUtterance[] {
    return this.#playout.utterances;
  }

  /**
   * Says `text` in the simulation's synthetic voice (a phrase of the STT's phrasebook at its own
   * pitch, so the STT recognizes it); resolves when its last frame has been sent (a microphone
   * delivers a frame once it has been captured, so that is the end of speech).
   */
  say(text: string): Promise<{ startAt: number; endAt: number }> {
    if (this.#speaking) throw new Error("VoiceConsole.say: already speaking");
    const pitch = this.#pitches.get(text);
    const pcm = pitch === undefined
      ? synthesizeVoice(text, WIRE_SAMPLE_RATE)
      : phraseVoice(text, WIRE_SAMPLE_RATE, pitch);
    for (let off = 0; off < pcm.length; off += MIC_FRAME_SAMPLES) {
      const frame = new Int16Array(MIC_FRAME_SAMPLES);
      frame.set(pcm.subarray(off, Math.min(off + MIC_FRAME_SAMPLES, pcm.length)));
      this.#queue.push(frame);
    }
    return new Promise((resolve) => this.#speaking = { resolve });
  }

  /** The first agent utterance whose audio started after `after` (epoch ms), within `timeoutMs`. */
  replyAfter(after: number, timeoutMs: number): Promise<AgentUtterance> {
    return this.#until(
      () => this.utterances.find((u) => u.firstFrameAt > after),
      timeoutMs,
      () => `no agent audio after ${new Date(after).toISOString()} within ${timeoutMs} ms`,
    );
  }

  /** The first event (already received or future) matching `pred`, within `timeoutMs`. */
  eventMatching(
    pred: (e: ReceivedEvent) => boolean,
    timeoutMs: number,
    what = "a matching event",
  ): Promise<ReceivedEvent> {
    return this.#until(() => this.events.find(pred), timeoutMs, () => `no ${what}`);
  }

  #until<T>(probe: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    const hit = probe();
    if (hit !== undefined) return Promise.resolve(hit);
    let wake = () => {};
    const found = new Promise<T>((resolve) => {
      wake = () => {
        const v = probe();
        if (v !== undefined) resolve(v);
      };
      this.#waiters.add(wake);
    });
    return bounded(found, timeoutMs, () => `${what()}; agent log:\n${this.agent.tail(20)}`)
      .finally(() => this.#waiters.delete(wake));
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #startMic(): void {
    const t0 = performance.now();
    let sent = 0;
    const silence = new Int16Array(MIC_FRAME_SAMPLES);
    const tick = () => {
      if (this.#micStopped || this.broker.isClosed) return;
      // A frame goes out once its 30 ms have been "captured"; catch up after a late timer.
      const due = Math.floor((performance.now() - t0) / FRAME_MS);
      for (let n = 0; sent < due && n < 7; n++, sent++) {
        const speech = this.#queue.shift();
        if (speech && this.#speaking && this.#speaking.startAt === undefined) {
          this.#speaking.startAt = epochMs() - FRAME_MS;
        }
        void this.broker.sendMic(speech ?? silence);
        if (speech && this.#queue.length === 0 && this.#speaking) {
          const { startAt, resolve } = this.#speaking;
          this.#speaking = undefined;
          resolve({ startAt: startAt!, endAt: epochMs() });
        }
      }
      this.#micTimer = setTimeout(
        tick,
        Math.max(0, t0 + (sent + 1) * FRAME_MS - performance.now()),
      );
    };
    tick();
  }

  /** Stops the microphone, closes the socket, ends the agent (by PID) and the simulation. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#micStopped = true;
    if (this.#micTimer !== undefined) clearTimeout(this.#micTimer);
    this.#speaking?.resolve({ startAt: NaN, endAt: NaN });
    await this.broker.close();
    await this.#playout.close();
    await this.agent.stop();
    await this.gateway.close();
  }
}
