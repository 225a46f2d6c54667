/**
 * The rig of the console fault tests (`faults/console_*_test.ts`): the real
 * `main.ts console --connect-addr` in its own process group, dialing a broker
 * written here on a real loopback socket (so the broker can misbehave: reset,
 * never ack), with the in-process gateway stand-in as LiveKit Inference. The
 * checks every test makes: the exit status within its bound, the one
 * `session ended` line, no `Uncaught`/unhandled rejection, and no process of
 * the agent's group left. Every child is killed by PID in {@link endRun}.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { assert, assertEquals, assertLess } from "@std/assert";
import { agentCommand, AgentProcess, stripAnsi } from "../console/agent_process.ts";
import { encodeMessage, FrameDecoder } from "../console/framing.ts";
import {
  CONSOLE_EXIT_GRACE_MS,
  LIBRARY_CANCEL_WAIT_MS,
  LIBRARY_CLOSE_COMMIT_MS,
} from "../core/bounds.ts";
import { type Gateway, type LlmBrain, startGateway, synthesizeVoice } from "../simulation/mod.ts";
import { MAIN } from "../testing/process.ts";
import { until } from "../testing/wait.ts";

/** GOODBYE_TIMEOUT_MS given to the agent under test. */
const G = 1_500;
/** Start-up of a `deno run` agent process (import, prewarm) is not what is measured. */
export const CONNECT_MS = 60_000;
/** From the ending to exit: goodbye bound, agents-js's fixed waits, the console exit grace. */
export const EXIT_BOUND_MS = G + LIBRARY_CANCEL_WAIT_MS + LIBRARY_CLOSE_COMMIT_MS +
  CONSOLE_EXIT_GRACE_MS + 1_000; // teardown (transport, log flush) after Close

/** PIDs whose process group is `pgid` (Linux /proc): everything the agent started. */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] !== "Z" && Number(f[2]) === pgid) out.push(Number(e.name));
    } catch {
      // raced with an exit
    }
  }
  return out;
}

/** Broker behaviour under test. */
export interface BrokerPlan {
  /** Acknowledge `audio_playback_flush` (after the audio's real duration). Default true. */
  ack?: boolean;
  /** Turn the agent's microphone input on (default off: typed input only). */
  audioIn?: boolean;
  /** Extra environment for the agent. */
  env?: Record<string, string>;
}

/**
 * A minimal console broker on a raw socket: text in, audio out, flush acks
 * paced by the audio's duration (or never), events recorded. Unlike
 * console/broker.ts it can stop reading, so closing then resets the
 * connection (unread data makes the kernel send RST).
 */
export class RawBroker {
  readonly events: pb.AgentSessionEvent[] = [];
  /** Responses to requests, by request id. */
  readonly responses = new Map<string, pb.SessionResponse>();
  audioFrames = 0;
  /** Milliseconds of agent audio received. */
  audioMs = 0;
  /**
   * Each utterance as received: its audio, whether its playout finished (the ack was due), and
   * whether a clear cut it (came while it was received or played).
   */
  readonly segments: { ms: number; played: boolean; cleared: boolean }[] = [];
  #inSegment = false;
  #reading = true;
  #ids = 0;
  readonly #listeners = new Set<() => void>();
  readonly closed: Promise<void>;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(readonly conn: Deno.TcpConn, readonly plan: BrokerPlan) {
    this.closed = this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder();
    const buf = new Uint8Array(64 * 1024);
    let pendingMs = 0;
    try {
      while (this.#reading) {
        const n = await this.conn.read(buf);
        if (n === null || !this.#reading) break;
        for (const msg of decoder.pushMessages(buf.subarray(0, n))) {
          const m = msg.message;
          if (m.case === "audioOutput") {
            this.audioFrames++;
            const ms = (m.value.samplesPerChannel / (m.value.sampleRate || 48000)) * 1000;
            pendingMs += ms;
            this.audioMs += ms;
            if (!this.#inSegment) this.segments.push({ ms: 0, played: false, cleared: false });
            this.#inSegment = true;
            this.segments[this.segments.length - 1].ms += ms;
          } else if (m.case === "audioPlaybackFlush") {
            this.#inSegment = false;
            const ms = pendingMs;
            pendingMs = 0;
            const segment = this.segments.at(-1);
            if (this.plan.ack !== false) {
              const t = setTimeout(() => {
                this.#timers.delete(t);
                if (segment && !segment.cleared) segment.played = true;
                void this.send({
                  case: "audioPlaybackFinished",
                  value: new pb.AgentSessionMessage_ConsoleIO_AudioPlaybackFinished(),
                });
              }, ms);
              this.#timers.add(t);
            }
          } else if (m.case === "audioPlaybackClear") {
            pendingMs = 0;
            const last = this.segments.at(-1);
            if (last && !last.played) last.cleared = true;
            this.#inSegment = false;
          } else if (m.case === "event") {
            this.events.push(m.value);
          } else if (m.case === "response") {
            this.responses.set(m.value.requestId, m.value);
          }
          for (const l of this.#listeners) l();
        }
      }
    } catch {
      // reset by the peer or by us
    }
  }

  /** Resolves when `pred` holds (checked after every message); rejects after `ms`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`broker: timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.#listeners.add(check);
    });
  }

  /** True once the agent reported an `end_session` tool call. */
  endSessionCalled(): boolean {
    return this.events.some((e) =>
      e.event.case === "functionToolsExecuted" &&
      e.event.value.functionCalls.some((c) => c.name === "end_session")
    );
  }

  async send(message: pb.AgentSessionMessage["message"]): Promise<void> {
    const bytes = encodeMessage(new pb.AgentSessionMessage({ message }));
    try {
      let off = 0;
      while (off < bytes.byteLength) off += await this.conn.write(bytes.subarray(off));
    } catch {
      // the agent went away
    }
  }

  /** Sends a request; resolves with its id once written. */
  async request(request: pb.SessionRequest["request"]): Promise<string> {
    const requestId = `t${++this.#ids}`;
    await this.send({ case: "request", value: new pb.SessionRequest({ requestId, request }) });
    return requestId;
  }

  /** Text in, audio out (flushes must be acked), as `lk console --text` with audio. */
  async textWithAudio(audioIn = false): Promise<void> {
    await this.request({
      case: "updateIo",
      value: new pb.SessionRequest_UpdateIO({
        input: new pb.SessionRequest_UpdateIO_Input({ audioEnabled: audioIn }),
        output: new pb.SessionRequest_UpdateIO_Output({
          audioEnabled: true,
          transcriptionEnabled: false,
        }),
      }),
    });
  }

  /** `run_input`, as the console sends a typed line; resolves with the request id. */
  say(text: string): Promise<string> {
    return this.request({ case: "runInput", value: new pb.SessionRequest_RunInput({ text }) });
  }

  /**
   * Speaks `text` into the agent's microphone: the stand-in's synthetic voice at
   * 48 kHz in 20 ms frames paced in real time, then `silenceMs` of silence so the
   * turn can end. Resolves when the last frame was sent.
   */
  async speak(text: string, silenceMs = 1_500): Promise<void> {
    const voice = synthesizeVoice(text, 48_000);
    const frame = 960;
    const total = voice.length + Math.round(48 * silenceMs);
    const t0 = performance.now();
    for (let off = 0, n = 0; off < total; off += frame, n++) {
      const pcm = new Int16Array(frame);
      if (off < voice.length) pcm.set(voice.subarray(off, Math.min(off + frame, voice.length)));
      await this.send({
        case: "audioInput",
        value: new pb.AgentSessionMessage_ConsoleIO_AudioFrame({
          data: new Uint8Array(pcm.buffer),
          sampleRate: 48_000,
          numChannels: 1,
          samplesPerChannel: frame,
        }),
      });
      // Real-time pacing of a microphone, not a wait for a condition.
      const due = t0 + (n + 1) * 20;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  }

  /** Stops reading, lets the agent's audio pile up unread, then closes: the kernel resets. */
  async reset(): Promise<void> {
    this.#reading = false;
    // Give the agent a moment to write more frames that will now sit unread.
    await new Promise((r) => setTimeout(r, 100));
    this.close();
  }

  close(): void {
    this.#reading = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    try {
      this.conn.close();
    } catch {
      // closed already
    }
  }
}

/** One test's agent process, its broker, the gateway stand-in and the agent's output lines. */
export interface Run {
  agent: AgentProcess;
  broker: RawBroker;
  gw: Gateway;
  lines: string[];
  listener: Deno.TcpListener;
}

/**
 * Starts the gateway stand-in, the agent on a loopback broker socket, and the broker once the
 * agent dialed it (text in, audio out).
 */
export async function startRun(brain: LlmBrain, plan: BrokerPlan = {}): Promise<Run> {
  const key = "fault-key";
  const secret = "fault-secret-which-is-long-enough-0123456789";
  const gw = await startGateway({ apiKey: key, apiSecret: secret, llm: brain });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { cmd, args } = agentCommand(MAIN, `127.0.0.1:${listener.addr.port}`, [
    "--log-level",
    "info",
  ]);
  const lines: string[] = [];
  const agent = AgentProcess.spawn({
    cmd,
    args,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      LIVEKIT_API_KEY: key,
      LIVEKIT_API_SECRET: secret,
      LIVEKIT_INFERENCE_URL: gw.url,
      GOODBYE_TIMEOUT_MS: String(G),
      TURN_DETECTION: "vad",
      ...plan.env,
    },
    onLine: (l) => lines.push(stripAnsi(l)),
  });
  try {
    const conn = await Promise.race([
      listener.accept(),
      agent.status.then((s) =>
        Promise.reject(new Error(`agent exited early: ${JSON.stringify(s)}`))
      ),
    ]);
    const broker = new RawBroker(conn, plan);
    await broker.textWithAudio(plan.audioIn);
    return { agent, broker, gw, lines, listener };
  } catch (e) {
    await agent.kill();
    listener.close();
    await gw.close();
    throw e;
  }
}

/** Ends everything a run started, by PID, whatever the test left. */
export async function endRun(run: Run): Promise<void> {
  run.broker.close();
  try {
    run.listener.close();
  } catch {
    // closed already
  }
  if (!run.agent.exited) await run.agent.kill();
  // Anything left in the agent's group is a leak; kill it by PID (and fail below).
  for (const pid of groupPids(run.agent.pid)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await run.agent.close();
  await run.broker.closed;
  await run.gw.close();
}

/** Waits for the agent to exit within `boundMs` from `t0`; returns its status and the time. */
export async function exited(run: Run, t0: number, boundMs: number) {
  const ok = await run.agent.waitExit(boundMs + 10_000);
  assert(ok, `the agent did not exit within ${boundMs + 10_000} ms`);
  const status = await run.agent.status;
  const ms = Math.round(performance.now() - t0);
  console.log(`exited ${status.code} in ${ms} ms (bound ${boundMs} ms)`);
  assertLess(ms, boundMs, `exited in ${ms} ms, past the bound of ${boundMs} ms`);
  // Checked before close(), which ends the group by PID and would hide a leak: what the
  // agent itself left behind. A child it killed may take a moment to be gone; bounded.
  await until(() => groupPids(run.agent.pid).length === 0, 2_000, "the agent's group to empty")
    .catch(() => {});
  assertEquals(groupPids(run.agent.pid), [], "processes of the agent's group outlived it");
  await run.agent.close(); // all output read
  const text = run.lines.join("\n");
  assert(!/Uncaught|unhandled rejection|UnhandledPromiseRejection/i.test(text), text.slice(-3000));
  return { status, text };
}

/** The `session ended` entry (pino-pretty: header line plus indented fields), exactly once. */
export function sessionEnded(text: string): string {
  const entries = text.split(/\n(?=\[)/).filter((e) => /\bsession ended: /.test(e.split("\n")[0]));
  assertEquals(entries.length, 1, `expected one 'session ended' entry in:\n${text.slice(-3000)}`);
  return entries[0];
}
