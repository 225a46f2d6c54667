/**
 * `deno task console`: the broker, the terminal UI and the agent child
 * process, wired together. See {@link runConsoleApp}.
 *
 * @module
 */
import type { AgentSession as pb } from "@livekit/protocol";
import { agentCommand, AgentProcess } from "./agent_process.ts";
import {
  BrokerListenError,
  BrokerSession,
  listenBroker,
  MIC_FRAME_SAMPLES,
  WIRE_SAMPLE_RATE,
} from "./broker.ts";
import { startInput } from "./input.ts";
import { EchoGate, WavMic } from "./mic.ts";
import { Playout } from "./playout.ts";
import { type AudioDevices, openAudioDevices } from "./portaudio.ts";
import { type AgentStateName, ConsoleUi } from "./ui.ts";
import { type MonoPcm, readWavFile, WavError, WavWriter } from "./wav.ts";
import { CONSOLE_EXIT_GRACE_MS, SESSION_CLOSE_TIMEOUT_MS } from "../core/bounds.ts";

/** Exit status for a mistake the user can fix (same as main.ts). */
export const USAGE_EXIT = 2;
/** Exit status when the session could not go on (agent died, never connected, ...). */
export const FAILURE_EXIT = 1;
/** Exit status after a second Ctrl+C. */
export const INTERRUPT_EXIT = 130;

/** How long the agent gets to exit by itself after its session closed. */
const AGENT_EXIT_GRACE_MS = 8_000;
/**
 * After a SIGINT, how long the agent gets before SIGKILL: its own worst case
 * (the session-close bound plus its exit grace) and a second of slack, so the
 * console never kills an agent that is still within its bounds.
 */
const AGENT_STOP_BOUND_MS = SESSION_CLOSE_TIMEOUT_MS + CONSOLE_EXIT_GRACE_MS + 1_000;

/** Parsed `console` flags. */
export interface ConsoleOptions {
  text: boolean;
  silent: boolean;
  offline: boolean;
  inputWav?: string;
  outputWav?: string;
  port: number;
  connectTimeoutS: number;
  logFile?: string;
  logLevel: string;
  verbose: boolean;
  bargeIn: boolean;
  devices: boolean;
  help: boolean;
}

/** A bad command line; printed as one line. */
export class ArgError extends Error {}

/** The help text of `console`. */
export const HELP = `Usage: deno task console [options]

Talk to the Exit Message agent from this terminal. Starts the agent as a child
process and acts as its console broker (what \`lk console\` does).

Options:
  --offline              Run against a local simulation of LiveKit Inference
                         (no account, scripted replies, synthetic voice)
  --text                 Type to the agent instead of speaking (no sound devices)
  --silent               With --text: the agent skips speech synthesis (lk's text mode)
  --input-wav FILE       Use a WAV recording as the microphone (real-time, any rate)
  --output-wav FILE      Record everything the agent said to a 48 kHz WAV
  --no-devices           Never open speakers/microphone
  --barge-in             Keep the microphone open while the agent speaks (headsets)
  --port N               Broker port on 127.0.0.1 (default: a free one)
  --connect-timeout S    Seconds the agent may take to start and connect (default 60)
  --log-file FILE        Append the agent's logs to FILE
  --log-level LEVEL      Agent log level: trace, debug, info, warn, error (default debug)
  --verbose              Show the agent's log lines in the terminal
  -h, --help             Show this help

Keys: type a line and press Enter to say it; Ctrl+C ends the session (the agent
says goodbye); Ctrl+C again quits at once.

The agent's half alone, for an external broker such as \`lk console\`:
  deno run -A main.ts console --connect-addr HOST:PORT`;

/** Parses `console` arguments (without the leading `console`). */
export function parseConsoleArgs(args: string[]): ConsoleOptions {
  const o: ConsoleOptions = {
    text: false,
    silent: false,
    offline: false,
    port: 0,
    connectTimeoutS: 60,
    logLevel: "debug",
    verbose: false,
    bargeIn: false,
    devices: true,
    help: false,
  };
  const value = (i: number, flag: string): string => {
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new ArgError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let inline: string | undefined;
    if (a.startsWith("--") && a.includes("=")) {
      inline = a.slice(a.indexOf("=") + 1);
      a = a.slice(0, a.indexOf("="));
      args = [...args.slice(0, i), a, inline, ...args.slice(i + 1)];
    }
    switch (a) {
      case "--text":
        o.text = true;
        break;
      case "--silent":
        o.silent = true;
        break;
      case "--offline":
        o.offline = true;
        break;
      case "--verbose":
        o.verbose = true;
        break;
      case "--barge-in":
        o.bargeIn = true;
        break;
      case "--no-devices":
        o.devices = false;
        break;
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--input-wav":
        o.inputWav = value(i++, a);
        break;
      case "--output-wav":
        o.outputWav = value(i++, a);
        break;
      case "--log-file":
        o.logFile = value(i++, a);
        break;
      case "--log-level": {
        const v = value(i++, a);
        if (!["trace", "debug", "info", "warn", "error", "fatal"].includes(v)) {
          throw new ArgError(
            `--log-level ${v} is not valid; use trace, debug, info, warn or error`,
          );
        }
        o.logLevel = v;
        break;
      }
      case "--port": {
        const v = value(i++, a);
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
          throw new ArgError(`--port ${v} is not valid; use a port from 1 to 65535`);
        }
        o.port = n;
        break;
      }
      case "--connect-timeout": {
        const v = value(i++, a);
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0 || n > 3600) {
          throw new ArgError(`--connect-timeout ${v} is not valid; use seconds from 1 to 3600`);
        }
        o.connectTimeoutS = n;
        break;
      }
      default:
        throw new ArgError(`unknown option ${a}; see deno task console --help`);
    }
  }
  if (o.text && o.inputWav) {
    throw new ArgError("--text and --input-wav exclude each other; pick typed or recorded input");
  }
  if (o.silent && !o.text) throw new ArgError("--silent only applies with --text");
  if (o.silent && o.outputWav) {
    throw new ArgError("--silent disables speech, so --output-wav would stay empty; drop one");
  }
  return o;
}

/** Options of {@link runConsoleApp}. */
export interface RunConsoleOptions {
  /** Absolute path (or file: URL) of main.ts; the agent child runs it. */
  mainModule: string;
  /** Extra environment for the agent child (tests). */
  agentEnv?: Record<string, string>;
}

function stderrLine(s: string): void {
  console.error(s);
}

function chatText(msg: pb.ChatMessage): string {
  return msg.content.map((c) => c.payload.case === "text" ? c.payload.value : "").join("").trim();
}

const STATE_NAMES: Record<number, AgentStateName> = {
  0: "initializing",
  1: "idle",
  2: "listening",
  3: "thinking",
  4: "speaking",
};

/**
 * Runs `console` without `--connect-addr`: checks the setup, starts the
 * broker and the agent child, runs the conversation in this terminal, prints
 * a summary, and resolves with the process exit code. It never leaves the
 * agent (or anything it forked) running.
 */
export async function runConsoleApp(args: string[], options: RunConsoleOptions): Promise<number> {
  let opts: ConsoleOptions;
  try {
    opts = parseConsoleArgs(args);
  } catch (e) {
    if (e instanceof ArgError) {
      stderrLine(`error: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }

  if (!opts.offline) {
    const missing = ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"].filter((n) =>
      !Deno.env.get(n)?.trim()
    );
    if (missing.length > 0) {
      stderrLine(
        `error: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set; ` +
          "copy .env.example to .env and fill it in, or run `deno task console --offline` to try the agent against a local simulation",
      );
      return USAGE_EXIT;
    }
  }

  // Validate files before anything starts, so a typo costs nothing.
  let inputPcm: MonoPcm | undefined;
  let recorder: WavWriter | undefined;
  try {
    if (opts.inputWav) inputPcm = await readWavFile(opts.inputWav);
    if (opts.outputWav) recorder = WavWriter.create(opts.outputWav, WIRE_SAMPLE_RATE);
  } catch (e) {
    if (e instanceof WavError) {
      stderrLine(`error: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }

  const session = new ConsoleRun(opts, options, inputPcm, recorder);
  try {
    return await session.run();
  } finally {
    await session.cleanup();
  }
}

type Phase = "starting" | "running" | "ending" | "done";

/** One console run: owns every resource and the end-of-session logic. */
class ConsoleRun {
  readonly ui = new ConsoleUi();
  readonly #opts: ConsoleOptions;
  readonly #run: RunConsoleOptions;
  readonly #inputPcm?: MonoPcm;
  readonly #recorder?: WavWriter;
  #phase: Phase = "starting";
  #mode: "voice" | "text" | "wav" = "voice";
  #devices?: AudioDevices;
  #playout?: Playout;
  #listener?: Deno.TcpListener;
  #agent?: AgentProcess;
  #broker?: BrokerSession;
  #gateway?: { url: string; close(): Promise<void>; log: { kind: string; durationMs?: number }[] };
  #mic?: WavMic;
  #input?: { stop(): void };
  #signals: [Deno.Signal, () => void][] = [];
  #hardQuit = Promise.withResolvers<void>();
  #quitNow = false;
  #timers: ReturnType<typeof setTimeout>[] = [];
  // Conversation bookkeeping for the summary.
  #endedBy?: string;
  #stopRequestedAt?: number;
  #agentSpokeAfterStop = false;
  #userTurns = 0;
  #agentTurns = 0;
  #toolCalls: string[] = [];
  #connectedAt = 0;
  #echoed: string[] = [];
  #lines: string[] = [];
  #pumping = false;
  #inputEnded = false;
  #agentInitiated = false;
  #interruptArmed = false;

  constructor(opts: ConsoleOptions, run: RunConsoleOptions, pcm?: MonoPcm, rec?: WavWriter) {
    this.#opts = opts;
    this.#run = run;
    this.#inputPcm = pcm;
    this.#recorder = rec;
  }

  async run(): Promise<number> {
    const { ui } = this;
    const opts = this.#opts;
    this.#installSignals();

    // 1. Audio path.
    this.#mode = opts.text ? "text" : opts.inputWav ? "wav" : "voice";
    ui.banner(
      this.#mode === "text"
        ? opts.silent ? "text (no speech)" : "text"
        : this.#mode === "wav"
        ? `voice from ${opts.inputWav}`
        : "voice",
      opts.offline,
    );
    if (this.#mode !== "text" && opts.devices) {
      const wantMic = this.#mode === "voice";
      let probe = openAudioDevices({ rate: WIRE_SAMPLE_RATE, input: wantMic });
      if (!probe.ok && wantMic) {
        const why = probe.reason;
        probe = openAudioDevices({ rate: WIRE_SAMPLE_RATE, input: false });
        this.#mode = "text";
        ui.warn(
          probe.ok
            ? `no microphone found (${why}); continuing in text mode, the agent's voice on the speakers`
            : `no audio device found (${why}); continuing in text mode`,
        );
      } else if (!probe.ok) {
        ui.info(`no audio device found (${probe.reason}); the agent's speech is timed, not played`);
      }
      if (probe.ok) this.#devices = probe.devices;
    } else if (this.#mode === "voice") {
      this.#mode = "text";
      ui.info("sound devices disabled (--no-devices); continuing in text mode");
    }
    this.#playout = new Playout({
      sampleRate: WIRE_SAMPLE_RATE,
      device: this.#devices?.output,
      recorder: this.#recorder,
    });

    // 2. Offline stand-in of LiveKit Inference.
    const agentEnv: Record<string, string> = { ...this.#run.agentEnv };
    if (opts.offline) {
      const { startGateway, offlineBrain, offlineTurnDetection } = await import(
        "../simulation/mod.ts"
      );
      const key = "offline-console";
      const secret = crypto.randomUUID();
      this.#gateway = await startGateway({ llm: offlineBrain(), apiKey: key, apiSecret: secret });
      ui.info(offlineTurnDetection(agentEnv.TURN_DETECTION ?? Deno.env.get("TURN_DETECTION")));
      Object.assign(agentEnv, {
        LIVEKIT_INFERENCE_URL: this.#gateway.url,
        LIVEKIT_API_KEY: key,
        LIVEKIT_API_SECRET: secret,
        LIVEKIT_INFERENCE_API_KEY: key,
        LIVEKIT_INFERENCE_API_SECRET: secret,
      });
    }

    // 3. Broker socket.
    try {
      this.#listener = listenBroker(opts.port);
    } catch (e) {
      if (e instanceof BrokerListenError) {
        ui.error(e.message);
        return USAGE_EXIT;
      }
      throw e;
    }
    const port = (this.#listener.addr as Deno.NetAddr).port;

    // 4. The agent child.
    const { cmd, args } = agentCommand(this.#run.mainModule, `127.0.0.1:${port}`, [
      "--log-level",
      opts.logLevel,
    ]);
    try {
      this.#agent = AgentProcess.spawn({
        cmd,
        args,
        env: agentEnv,
        logFile: opts.logFile,
        onLine: opts.verbose ? (l) => ui.line(ui.dim(`  │ ${l}`)) : undefined,
      });
    } catch (e) {
      ui.error(`cannot start the agent (${(e as Error).message})`);
      return FAILURE_EXIT;
    }
    const agent = this.#agent;
    ui.spin(opts.offline ? "starting the agent (offline)" : "starting the agent");

    // 5. Wait for it to dial in, bounded; watch for an early death and Ctrl+C.
    const started = performance.now();
    const timeout = new Promise<"timeout">((r) =>
      this.#timers.push(setTimeout(() => r("timeout"), opts.connectTimeoutS * 1000))
    );
    const accepted = this.#listener.accept().then((c) => c, () => undefined);
    const first = await Promise.race([
      accepted,
      agent.status.then(() => "exited" as const),
      timeout,
      this.#hardQuit.promise.then(() => "quit" as const),
    ]);
    if (first === "quit" || this.#quitNow) {
      ui.stopSpin();
      ui.warn("interrupted before the agent connected");
      await agent.kill();
      return INTERRUPT_EXIT;
    }
    if (first === "exited" || first === "timeout" || first === undefined) {
      ui.stopSpin();
      if (first === "timeout") {
        ui.error(`the agent did not connect within ${opts.connectTimeoutS} s; its last log lines:`);
      } else {
        const st = await agent.status;
        ui.error(`the agent exited (${describeStatus(st)}) before connecting; its last log lines:`);
      }
      await agent.stop({ killAfterMs: 3000 });
      this.#printTail();
      return FAILURE_EXIT;
    }
    const conn = first;
    // One agent, one connection: stop listening so the port is free again.
    this.#listener.close();
    this.#listener = undefined;
    this.#connectedAt = performance.now();
    ui.stopSpin();
    ui.ok(`agent connected in ${((this.#connectedAt - started) / 1000).toFixed(1)} s`);
    this.#phase = "running";

    // 6. The session.
    const broker = new BrokerSession(conn, this.#playout, {
      onEvent: (ev) => this.#onEvent(ev),
    });
    this.#broker = broker;
    if (this.#mode === "text") {
      broker.updateIo({ audioIn: false, audioOut: !opts.silent }).catch((e) => {
        if (!broker.isClosed) ui.warn(`could not switch the agent to text input (${e.message})`);
      });
    }
    this.#hints();
    this.#startInput();
    void broker.firstMessage.then(() => this.#startMic());

    // 7. Until the session or the agent ends, or the user insists.
    const how = await Promise.race([
      broker.closed.then(() => "closed" as const),
      agent.status.then(() => "exited" as const),
      this.#hardQuit.promise.then(() => "quit" as const),
    ]);
    this.#input?.stop();
    this.#mic?.stop();
    if (how === "quit" || this.#quitNow) return await this.#quit();
    if (broker.closeError) ui.warn(`the session connection broke (${broker.closeError})`);

    // The other side of the pair follows shortly; bound both.
    let agentStoppedByUs = false;
    if (how === "closed") {
      const exitedAlone = await agent.waitExit(AGENT_EXIT_GRACE_MS);
      if (!exitedAlone) {
        agentStoppedByUs = true;
        await agent.stop({ killAfterMs: 5000 });
      }
    } else {
      await Promise.race([broker.closed, sleep(1000, this.#timers)]);
    }
    await broker.close();
    if (this.#quitNow) return INTERRUPT_EXIT;
    this.#phase = "done";
    const st = await agent.status;
    await agent.close();
    ui.finish();

    const clean = st.code === 0 ||
      (this.#stopRequestedAt !== undefined && st.signal === "SIGINT") ||
      (this.#stopRequestedAt !== undefined && st.code === 130) || agentStoppedByUs;
    if (!clean) {
      ui.error(`the agent process died (${describeStatus(st)}); its last log lines:`);
      this.#printTail();
      return FAILURE_EXIT;
    }
    if (agentStoppedByUs) {
      ui.warn("the agent did not exit by itself after the session closed; it was stopped");
    }
    this.#summary(how);
    return 0;
  }

  #hints(): void {
    const typed = this.#mode === "text" || Deno.stdin.isTerminal();
    this.ui.setHint(
      this.#mode === "text"
        ? "type a message, Enter to send · Ctrl+C to end"
        : "speak · Ctrl+C to end",
    );
    if (this.ui.tty && typed) this.ui.setInput("");
  }

  #startInput(): void {
    // Typed lines work in every mode; only in text mode does the end of input end the session.
    this.#input = startInput(this.ui.tty && Deno.stdin.isTerminal(), {
      onLine: (line) => {
        const text = line.trim();
        if (!text || this.#phase !== "running") return;
        this.#lines.push(text);
        void this.#pumpLines();
      },
      onEof: () => {
        if (this.#mode !== "text") return;
        this.#inputEnded = true;
        void this.#pumpLines();
      },
      onInterrupt: () => this.#interrupt("you pressed Ctrl+C"),
      onEdit: (buf) => this.ui.setInput(buf),
    });
  }

  // Typed lines run one at a time: run_input resolves after the reply has played.
  async #pumpLines(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#lines.length > 0 && this.#phase === "running" && this.#broker) {
        const text = this.#lines.shift()!;
        this.#echoed.push(text);
        this.#userTurns++;
        this.ui.user(text);
        try {
          await this.#broker.runInput(text);
        } catch (e) {
          if (this.#phase === "running" && !this.#broker.isClosed) {
            this.ui.warn(`the agent did not answer (${(e as Error).message})`);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#inputEnded && this.#lines.length === 0 && this.#phase === "running") {
      this.#beginStop("the input ended");
    }
  }

  #startMic(): void {
    const broker = this.#broker;
    if (!broker || broker.isClosed || this.#phase !== "running") return;
    if (this.#mode === "wav" && this.#inputPcm) {
      this.#mic = new WavMic(this.#inputPcm, () => {
        if (this.#phase === "running") {
          this.ui.info(`${this.#opts.inputWav} ended; the microphone is silent now`);
        }
      });
      this.ui.info(
        `streaming ${this.#opts.inputWav} (${this.#mic.seconds.toFixed(1)} s) as the microphone`,
      );
      this.#mic.start((frame) => void broker.sendMic(frame));
    } else if (this.#mode === "voice" && this.#devices?.input) {
      const gate = new EchoGate(!this.#opts.bargeIn);
      this.#devices.input.start(MIC_FRAME_SAMPLES, (frame) => {
        if (broker.isClosed) return;
        void broker.sendMic(gate.pass(frame, this.#playout?.playing ?? false));
      });
    }
  }

  #onEvent(ev: pb.AgentSessionEvent): void {
    const { ui } = this;
    const e = ev.event;
    switch (e.case) {
      case "agentStateChanged":
        ui.state(STATE_NAMES[e.value.newState] ?? "idle");
        break;
      case "userInputTranscribed":
        if (!e.value.isFinal) ui.partial(e.value.transcript);
        break;
      case "conversationItemAdded": {
        const item = e.value.item?.item;
        if (item?.case !== "message") break;
        const text = chatText(item.value);
        if (!text) break;
        if (item.value.role === 2 /* USER */) {
          const i = this.#echoed.indexOf(text);
          if (i >= 0) {
            this.#echoed.splice(i, 1); // typed: shown when sent
          } else {
            this.#userTurns++;
            ui.user(text);
          }
        } else if (item.value.role === 3 /* ASSISTANT */) {
          this.#agentTurns++;
          if (this.#stopRequestedAt !== undefined) this.#agentSpokeAfterStop = true;
          ui.agent(text, item.value.interrupted);
        }
        break;
      }
      case "functionToolsExecuted": {
        const outputs = new Map(e.value.functionCallOutputs.map((o) => [o.callId, o]));
        for (const call of e.value.functionCalls) {
          const out = outputs.get(call.callId);
          this.#toolCalls.push(call.name);
          if (call.name === "end_session") this.#agentEnding();
          ui.tool(call.name, call.arguments, out?.output ?? "", out?.isError ?? false);
        }
        break;
      }
      case "error":
        ui.warn(`agent error: ${e.value.message}`);
        break;
      default:
        break;
    }
  }

  #installSignals(): void {
    const sigs: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const sig of sigs) {
      const h = () =>
        this.#interrupt(sig === "SIGINT" ? "you pressed Ctrl+C" : `the console got ${sig}`);
      try {
        Deno.addSignalListener(sig, h);
        this.#signals.push([sig, h]);
      } catch {
        // signal not supported here
      }
    }
  }

  // The agent called end_session: its goodbye and close are on the way. No
  // signal is needed; only a bound in case the close never completes.
  #agentEnding(): void {
    this.#endedBy ??= "the agent ended the session (end_session)";
    if (this.#phase !== "running") return;
    this.#phase = "ending";
    this.#agentInitiated = true;
    this.ui.setHint("");
    this.ui.setInput(undefined);
    this.#armStopBound();
  }

  #armStopBound(): void {
    this.#timers.push(setTimeout(() => {
      if (this.#agent && !this.#agent.exited) {
        this.ui.warn(
          `the agent did not finish within ${AGENT_STOP_BOUND_MS / 1000} s; stopping it`,
        );
        void this.#agent.stop({ killAfterMs: 3000 });
      }
    }, AGENT_STOP_BOUND_MS));
  }

  #interrupt(reason: string): void {
    if (this.#phase === "running") {
      this.#beginStop(reason);
      return;
    }
    if (this.#phase === "ending" && this.#agentInitiated && !this.#interruptArmed) {
      this.#interruptArmed = true;
      this.ui.info("the agent is already ending the session (Ctrl+C again to quit at once)");
      return;
    }
    // Starting, or already ending: a second Ctrl+C quits at once.
    this.#quitNow = true;
    this.#hardQuit.resolve();
  }

  #beginStop(reason: string): void {
    if (this.#phase !== "running") return;
    this.#phase = "ending";
    this.#endedBy ??= reason;
    this.#stopRequestedAt = performance.now();
    this.ui.setHint("");
    this.ui.setInput(undefined);
    this.ui.info("ending the session; the agent says goodbye (Ctrl+C again to quit at once)");
    this.#mic?.stop();
    // One SIGINT: agents-js closes the session, which runs onExit ("Goodbye!").
    this.#agent?.signal("SIGINT");
    this.#timers.push(setTimeout(() => {
      if (this.#agent && !this.#agent.exited) {
        this.ui.warn(
          `the agent did not finish within ${AGENT_STOP_BOUND_MS / 1000} s; stopping it`,
        );
        this.#agent.signal("SIGKILL");
      }
    }, AGENT_STOP_BOUND_MS));
  }

  async #quit(): Promise<number> {
    this.ui.finish();
    this.ui.warn("quit at once; the agent was stopped");
    await this.#agent?.kill();
    return INTERRUPT_EXIT;
  }

  #printTail(): void {
    const tail = this.#agent?.logs.tail(12) ?? [];
    if (tail.length === 0) this.ui.errLine(this.ui.dim("  (no output)"));
    for (const l of tail) this.ui.errLine(this.ui.dim(`  │ ${l}`));
    if (this.#opts.logFile) this.ui.errLine(this.ui.dim(`  full log: ${this.#opts.logFile}`));
  }

  #summary(how: "closed" | "exited"): void {
    const secs = (performance.now() - this.#connectedAt) / 1000;
    let ending = this.#endedBy ??
      (how === "closed" ? "the agent closed the session" : "the agent exited");
    if (this.#stopRequestedAt !== undefined && !this.#endedBy?.startsWith("the agent")) {
      ending += this.#agentSpokeAfterStop ? "; the agent said goodbye" : "; no goodbye was heard";
    }
    const parts = [
      `${this.#userTurns} user turn${this.#userTurns === 1 ? "" : "s"}`,
      `${this.#agentTurns} agent repl${this.#agentTurns === 1 ? "y" : "ies"}`,
      `${formatDuration(secs)}`,
    ];
    const played = this.#playout?.playedSeconds ?? 0;
    if (played > 0) parts.push(`${played.toFixed(2)} s of agent speech`);
    this.ui.line("");
    this.ui.line(
      this.ui.tty ? `\x1b[1msession ended:\x1b[0m ${ending}` : `session ended: ${ending}`,
    );
    this.ui.line(`summary: ${parts.join(" · ")}`);
    if (this.#recorder) {
      this.ui.line(`recorded: ${this.#opts.outputWav} (${this.#recorder.seconds.toFixed(2)} s)`);
    }
    if (this.#gateway) {
      const ttsMs = this.#gateway.log.reduce(
        (n, e) => n + (e.kind === "tts_audio" ? e.durationMs ?? 0 : 0),
        0,
      );
      this.ui.line(
        `simulation: the stand-in TTS synthesized ${(ttsMs / 1000).toFixed(2)} s of audio`,
      );
    }
  }

  /** Releases everything, whatever happened; safe to call twice. */
  async cleanup(): Promise<void> {
    for (const [sig, h] of this.#signals) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // ignore
      }
    }
    this.#signals = [];
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#input?.stop();
    this.#mic?.stop();
    this.ui.finish();
    if (this.#agent && !this.#agent.exited) await this.#agent.kill();
    await this.#agent?.close();
    await this.#broker?.close();
    try {
      this.#listener?.close();
    } catch {
      // closed already
    }
    await this.#playout?.close();
    this.#recorder?.close();
    await this.#devices?.close();
    await this.#gateway?.close();
  }
}

function describeStatus(st: Deno.CommandStatus): string {
  return st.signal ? `signal ${st.signal}` : `exit code ${st.code}`;
}

function formatDuration(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function sleep(ms: number, timers: ReturnType<typeof setTimeout>[]): Promise<void> {
  return new Promise((r) => timers.push(setTimeout(r, ms)));
}
