/**
 * `deno task console`: the broker, the terminal UI and the agent child
 * process, wired together. See {@link runConsoleApp}.
 *
 * @module
 */
import type { AgentSession as pb } from "@livekit/protocol";
import { agentCommand, AgentProcess, LogFileError, openLogFile } from "./agent_process.ts";
import { BrokerListenError, BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "./broker.ts";
import { formatDeviceTable } from "./devices.ts";
import { type InputHandle, startInput } from "./input.ts";
import { type EndingCause, quitHint } from "./keys.ts";
import { LatencyLog } from "./latency.ts";
import { turnDetectionOf, TurnPartsTracker } from "./turn_view.ts";
import { type PlayedSink, Playout } from "./playout.ts";
import { listAudioDevices } from "./portaudio.ts";
import { SessionRecorder } from "./recorder.ts";
import { Talk } from "./talk.ts";
import { type AgentStateName, ConsoleUi } from "./ui.ts";
import { type MonoPcm, readWavFile, WavError, WavWriter } from "./wav.ts";
import { HeardView } from "./heard.ts";
import { CONSOLE_EXIT_GRACE_MS, SESSION_CLOSE_TIMEOUT_MS } from "../core/bounds.ts";
import { parseReport } from "../core/console_report.ts";
import { MODEL_FAILURE_EXIT_CODE } from "../core/errors.ts";
import { ArgError, type ConsoleOptions, HELP, parseConsoleArgs } from "./options.ts";

export { ArgError, type ConsoleOptions, HELP, parseConsoleArgs };

/** Exit status for a mistake the user can fix (same as main.ts). */
export const USAGE_EXIT = 2;
/** Exit status when the session could not go on (agent died, never connected, ...). */
export const FAILURE_EXIT = 1;
/** Exit status after a second Ctrl+C. */
export const INTERRUPT_EXIT = 130;
/**
 * Exit status when the session ended because the models failed
 * (`MAX_FAILED_TURNS` failed turns in a row; the agent exits with it too).
 */
export const MODEL_FAILURE_EXIT = MODEL_FAILURE_EXIT_CODE;

/** How long the agent gets to exit by itself after its session closed. */
const AGENT_EXIT_GRACE_MS = 8_000;
/**
 * After a SIGINT, how long the agent gets before SIGKILL: its own worst case
 * (the session-close bound plus its exit grace) and a second of slack, so the
 * console never kills an agent that is still within its bounds.
 */
const AGENT_STOP_BOUND_MS = SESSION_CLOSE_TIMEOUT_MS + CONSOLE_EXIT_GRACE_MS + 1_000;

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
  if (opts.listDevices) {
    const list = listAudioDevices();
    if (!list.ok) {
      stderrLine(`error: cannot list audio devices: ${list.reason}`);
      return USAGE_EXIT;
    }
    console.log(formatDeviceTable(list.devices));
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
  const files: RunFiles = {};
  try {
    if (opts.inputWav) files.inputPcm = await readWavFile(opts.inputWav);
    if (opts.logFile) files.logFile = openLogFile(opts.logFile);
    if (opts.outputWav) files.outputWav = WavWriter.create(opts.outputWav, WIRE_SAMPLE_RATE);
    if (opts.recordDir) files.record = SessionRecorder.create(opts.recordDir, WIRE_SAMPLE_RATE);
  } catch (e) {
    files.logFile?.close();
    files.outputWav?.close();
    if (e instanceof WavError || e instanceof LogFileError) {
      stderrLine(`error: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }

  const session = new ConsoleRun(opts, options, files);
  try {
    return await session.run();
  } finally {
    await session.cleanup();
    files.logFile?.close();
  }
}

/** The files a run reads and writes, opened before anything starts. */
interface RunFiles {
  inputPcm?: MonoPcm;
  outputWav?: WavWriter;
  logFile?: Deno.FsFile;
  record?: SessionRecorder;
}

type Phase = "starting" | "running" | "ending" | "done";

/** One console run: owns every resource and the end-of-session logic. */
class ConsoleRun {
  readonly ui = new ConsoleUi();
  readonly #opts: ConsoleOptions;
  readonly #run: RunConsoleOptions;
  readonly #files: RunFiles;
  readonly #latency = new LatencyLog();
  /** The parts of each spoken turn (set once the agent's turn detection is known). */
  #turnParts = new TurnPartsTracker();
  #phase: Phase = "starting";
  #talk?: Talk;
  #playout?: Playout;
  #listener?: Deno.TcpListener;
  #agent?: AgentProcess;
  #broker?: BrokerSession;
  #heard?: HeardView;
  #gateway?: { url: string; close(): Promise<void>; log: { kind: string; durationMs?: number }[] };
  #input?: InputHandle;
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

  constructor(opts: ConsoleOptions, run: RunConsoleOptions, files: RunFiles) {
    this.#opts = opts;
    this.#run = run;
    this.#files = files;
  }

  async run(): Promise<number> {
    const { ui } = this;
    const opts = this.#opts;
    this.#installSignals();

    // 1. Audio path.
    const talk = new Talk({
      ui,
      opts,
      inputPcm: this.#files.inputPcm,
      record: this.#files.record,
      setCommandMode: (on) => this.#input?.setCommandMode(on),
      onReplayFinished: (file) => this.#beginStop(`${file} ended`, { kind: "input" }),
    });
    this.#talk = talk;
    ui.banner(
      talk.mode === "text"
        ? opts.silent ? "text (no speech)" : "text"
        : talk.mode === "wav"
        ? `voice from ${opts.inputWav}`
        : "voice",
      opts.offline,
    );
    if (!talk.openDevices()) return USAGE_EXIT;
    const recorders: PlayedSink[] = [];
    if (this.#files.outputWav) recorders.push(this.#files.outputWav);
    if (this.#files.record) recorders.push(this.#files.record.agent);
    this.#playout = new Playout({
      sampleRate: WIRE_SAMPLE_RATE,
      device: talk.devices?.output,
      recorders,
    });

    // 2. Offline stand-in of LiveKit Inference.
    const agentEnv: Record<string, string> = { ...this.#run.agentEnv };
    this.#turnParts = new TurnPartsTracker(
      turnDetectionOf(agentEnv.TURN_DETECTION ?? Deno.env.get("TURN_DETECTION")),
    );
    if (opts.offline) {
      const { startGateway, offlineBrain, offlineTurnDetection, DEFAULT_STT_TRANSCRIPTS } =
        await import("../simulation/mod.ts");
      talk.simulatedStt(DEFAULT_STT_TRANSCRIPTS);
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
        logFile: this.#files.logFile,
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
    this.#files.record?.begin();
    ui.stopSpin();
    ui.ok(`agent connected in ${((this.#connectedAt - started) / 1000).toFixed(1)} s`);
    this.#phase = "running";

    // 6. The session.
    const broker = new BrokerSession(conn, this.#playout, {
      onEvent: (ev) => this.#onEvent(ev),
      onAudio: () => this.#latency.audioArrived(),
    });
    this.#broker = broker;
    this.#heard = new HeardView(ui, {
      audioOut: !(talk.mode === "text" && opts.silent),
      audioFrames: () => broker.stats.audioFramesIn,
    });
    talk.attach(broker, this.#playout);
    if (talk.mode === "text") {
      broker.updateIo({ audioIn: false, audioOut: !opts.silent }).catch((e) => {
        if (!broker.isClosed) ui.warn(`could not switch the agent to text input (${e.message})`);
      });
    }
    this.#startInput();
    talk.hints();
    void broker.firstMessage.then(() => talk.startMic());

    // 7. Until the session or the agent ends, or the user insists.
    const how = await Promise.race([
      broker.closed.then(() => "closed" as const),
      agent.status.then(() => "exited" as const),
      this.#hardQuit.promise.then(() => "quit" as const),
    ]);
    this.#input?.stop();
    talk.stop();
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

    this.#heard?.flush();
    if (st.code === MODEL_FAILURE_EXIT) {
      this.#summary(how, true);
      return MODEL_FAILURE_EXIT;
    }
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

  #startInput(): void {
    // Typed lines work in every mode on a pipe; only in text mode does the end of input end the session.
    this.#input = startInput(this.ui.tty && Deno.stdin.isTerminal(), {
      onLine: (line) => {
        const text = line.trim();
        if (!text || this.#phase !== "running") return;
        this.#lines.push(text);
        void this.#pumpLines();
      },
      onEof: () => {
        if (this.#talk?.mode !== "text") return;
        this.#inputEnded = true;
        void this.#pumpLines();
      },
      onInterrupt: () => this.#interrupt("you pressed Ctrl+C", { kind: "key" }),
      onEdit: (buf) => this.ui.setInput(buf),
      onKey: (key, typing) => this.#talk?.onKey(key, typing) ?? false,
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
        this.#latency.typedTurnSent();
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
      this.#beginStop("the input ended", { kind: "input" });
    }
  }

  #onEvent(ev: pb.AgentSessionEvent): void {
    const { ui } = this;
    const e = ev.event;
    // Completes on the reply's own `conversationItemAdded`, handled below.
    const turnParts = this.#turnParts.push(ev);
    switch (e.case) {
      case "agentStateChanged": {
        const state = STATE_NAMES[e.value.newState] ?? "idle";
        ui.state(state);
        this.#talk?.agentState(state);
        break;
      }
      case "userInputTranscribed":
        if (!e.value.isFinal) ui.partial(e.value.transcript);
        break;
      case "conversationItemAdded": {
        const item = e.value.item?.item;
        if (item?.case !== "message") break;
        const text = chatText(item.value);
        if (!text) break;
        if (item.value.role === 2 /* USER */) {
          this.#heard?.flush();
          const i = this.#echoed.indexOf(text);
          if (i >= 0) {
            this.#echoed.splice(i, 1); // typed: shown when sent
          } else {
            this.#userTurns++;
            ui.user(text);
            this.#talk?.userTurn();
          }
        } else if (item.value.role === 3 /* ASSISTANT */) {
          const shown = this.#heard
            ? this.#heard.agentMessage(text, item.value.interrupted)
            : (ui.agent(text, item.value.interrupted), "heard");
          if (shown !== "retry") {
            this.#agentTurns++;
            ui.latency(this.#latency.reply(item.value.metrics, turnParts));
            this.#talk?.replied();
          }
          if (shown === "heard" && this.#stopRequestedAt !== undefined) {
            this.#agentSpokeAfterStop = true;
          }
        }
        break;
      }
      case "functionToolsExecuted": {
        this.#heard?.flush();
        const outputs = new Map(e.value.functionCallOutputs.map((o) => [o.callId, o]));
        for (const call of e.value.functionCalls) {
          const out = outputs.get(call.callId);
          this.#toolCalls.push(call.name);
          if (call.name === "end_session") this.#agentEnding();
          ui.tool(call.name, call.arguments, out?.output ?? "", out?.isError ?? false);
        }
        this.#talk?.replied();
        break;
      }
      case "error":
        // Names only the model ("inference.TTS"); the agent's own report of the
        // failed turn says why, in one line (debugMessage below).
        break;
      case "debugMessage": {
        const report = parseReport(e.value);
        if (report) this.#heard?.report(report);
        break;
      }
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
        this.#interrupt(
          sig === "SIGINT" ? "you pressed Ctrl+C" : `the console got ${sig}`,
          { kind: "signal", signal: sig },
        );
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
    this.#talk?.stop();
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

  #interrupt(reason: string, cause: EndingCause): void {
    if (this.#phase === "running") {
      this.#beginStop(reason, cause);
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

  #beginStop(reason: string, cause: EndingCause): void {
    if (this.#phase !== "running") return;
    this.#phase = "ending";
    this.#endedBy ??= reason;
    this.#stopRequestedAt = performance.now();
    this.ui.setHint("");
    this.ui.setInput(undefined);
    // Offer a key only where one can reach the console (not to a pipe).
    const terminal = this.ui.tty || Deno.stdin.isTerminal();
    this.ui.info(`ending the session; the agent says goodbye${quitHint(cause, terminal)}`);
    this.#talk?.stop();
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

  #summary(how: "closed" | "exited", modelsFailed = false): void {
    const secs = (performance.now() - this.#connectedAt) / 1000;
    const failure = this.#heard?.failure;
    let ending = failure
      ? `the call ended after ${failure.failedTurns} failed turn${
        failure.failedTurns === 1 ? "" : "s"
      } in a row (${failure.model}_error): ${failure.cause}`
      : modelsFailed
      ? "the call ended because the models failed (the agent's log says why)"
      : this.#endedBy ?? (how === "closed" ? "the agent closed the session" : "the agent exited");
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
      this.ui.tty ? `${this.ui.bold("session ended:")} ${ending}` : `session ended: ${ending}`,
    );
    this.ui.line(`summary: ${parts.join(" · ")}`);
    if (this.#files.outputWav) {
      const secs = this.#files.outputWav.seconds.toFixed(2);
      this.ui.line(`recorded: ${this.#opts.outputWav} (${secs} s)`);
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
    const latency = this.#latency.summary((s) => this.ui.red(s));
    if (latency) this.ui.line(`latency: ${latency}`);
    if (this.#files.record) {
      const files = this.#files.record.close();
      this.ui.line(
        files.length > 0
          ? `recorded both sides: ${files.join(", ")} (one timeline)`
          : `recorded nothing: no audio went either way`,
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
    this.#talk?.stop();
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
    this.#files.outputWav?.close();
    this.#files.record?.close();
    await this.#talk?.close();
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
