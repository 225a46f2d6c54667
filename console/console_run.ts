/**
 * One console run, start to end: the audio path, the offline simulation when
 * asked, the broker socket, the agent child, the session, and the exit status
 * of how it ended. It owns every resource it starts and releases them all,
 * whatever happened. What the screen shows of the session is `event_view.ts`,
 * typed lines go through `typed_lines.ts`, how the session ends is
 * `session_end.ts`, the last lines are `summary.ts`.
 *
 * @module
 */
import { agentCommand, AgentProcess } from "./agent_process.ts";
import { BrokerListenError, BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "./broker.ts";
import { EventView } from "./event_view.ts";
import { FAILURE_EXIT, INTERRUPT_EXIT, MODEL_FAILURE_EXIT, USAGE_EXIT } from "./exit_codes.ts";
import { HeardView } from "./heard.ts";
import { type InputHandle, startInput } from "./input.ts";
import { LatencyLog } from "./latency.ts";
import type { ConsoleOptions } from "./options.ts";
import { type PlayedSink, Playout } from "./playout.ts";
import type { SessionRecorder } from "./recorder.ts";
import { SessionEnd } from "./session_end.ts";
import { printSummary } from "./summary.ts";
import { Talk } from "./talk.ts";
import { turnDetectionOf, TurnPartsTracker } from "./turn_view.ts";
import { TypedLines } from "./typed_lines.ts";
import { ConsoleUi } from "./ui.ts";
import type { MonoPcm, WavWriter } from "./wav.ts";

/** How long the agent gets to exit by itself after its session closed. */
const AGENT_EXIT_GRACE_MS = 8_000;

/** Options of a console run (and of `runConsoleApp`). */
export interface RunConsoleOptions {
  /** Absolute path (or file: URL) of main.ts; the agent child runs it. */
  mainModule: string;
  /** Extra environment for the agent child (tests). */
  agentEnv?: Record<string, string>;
}

/** The files a run reads and writes, opened before anything starts. */
export interface RunFiles {
  /** `--input-wav`, read. */
  inputPcm?: MonoPcm;
  /** `--output-wav`. */
  outputWav?: WavWriter;
  /** `--log-file`. */
  logFile?: Deno.FsFile;
  /** `--record`. */
  record?: SessionRecorder;
}

/** One console run: owns every resource (see the module doc). */
export class ConsoleRun {
  /** The terminal UI. */
  readonly ui: ConsoleUi = new ConsoleUi();
  readonly #opts: ConsoleOptions;
  readonly #run: RunConsoleOptions;
  readonly #files: RunFiles;
  readonly #latency = new LatencyLog();
  readonly #end: SessionEnd;
  readonly #events: EventView;
  #talk?: Talk;
  #playout?: Playout;
  #listener?: Deno.TcpListener;
  #agent?: AgentProcess;
  #broker?: BrokerSession;
  #heard?: HeardView;
  #gateway?: { url: string; close(): Promise<void>; log: { kind: string; durationMs?: number }[] };
  #input?: InputHandle;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #connectedAt = 0;
  readonly #typed: TypedLines;

  /** A run with its options and the files `runConsoleApp` opened; nothing starts before {@link run}. */
  constructor(opts: ConsoleOptions, run: RunConsoleOptions, files: RunFiles) {
    this.#opts = opts;
    this.#run = run;
    this.#files = files;
    this.#end = new SessionEnd({
      ui: this.ui,
      talk: () => this.#talk,
      agent: () => this.#agent,
      later: (fn, ms) => this.#timers.push(setTimeout(fn, ms)),
    });
    this.#events = new EventView({
      ui: this.ui,
      latency: this.#latency,
      talk: () => this.#talk,
      heard: () => this.#heard,
      stopRequested: () => this.#end.stopRequestedAt !== undefined,
      onEndSession: () => this.#end.agentEnding(),
    });
    this.#typed = new TypedLines({
      running: () => this.#end.phase === "running",
      broker: () => this.#broker,
      sent: (text) => this.#events.typed(text),
      warn: (message) => this.ui.warn(message),
      inputEnded: () => this.#end.beginStop("the input ended", { kind: "input" }),
    });
  }

  /** Runs the session; resolves with the process exit code. */
  async run(): Promise<number> {
    const { ui } = this;
    const opts = this.#opts;
    const end = this.#end;
    end.installSignals();

    // 1. Audio path.
    const talk = new Talk({
      ui,
      opts,
      inputPcm: this.#files.inputPcm,
      record: this.#files.record,
      setCommandMode: (on) => this.#input?.setCommandMode(on),
      onReplayFinished: (file) => end.beginStop(`${file} ended`, { kind: "input" }),
    });
    this.#talk = talk;
    // Devices first: the banner names the mode the console really runs in (voice falls back to
    // text without a sound card), then what the devices had to say.
    const devicesOk = talk.openDevices();
    ui.banner(talk.modeLabel(), opts.offline);
    talk.sayDeviceNotes();
    if (!devicesOk) return USAGE_EXIT;
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
    this.#events.turnParts = new TurnPartsTracker(
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
      end.hardQuit.then(() => "quit" as const),
    ]);
    if (first === "quit" || end.quitNow) {
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
    end.phase = "running";

    // 6. The session.
    const broker = new BrokerSession(conn, this.#playout, {
      onEvent: (ev) => this.#events.onEvent(ev),
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
      end.hardQuit.then(() => "quit" as const),
    ]);
    this.#input?.stop();
    talk.stop();
    if (how === "quit" || end.quitNow) return await end.quit();
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
    if (end.quitNow) return INTERRUPT_EXIT;
    end.phase = "done";
    const st = await agent.status;
    await agent.close();
    ui.finish();

    this.#heard?.flush();
    if (st.code === MODEL_FAILURE_EXIT) {
      this.#summary(how, true);
      return MODEL_FAILURE_EXIT;
    }
    const clean = st.code === 0 ||
      (end.stopRequestedAt !== undefined && st.signal === "SIGINT") ||
      (end.stopRequestedAt !== undefined && st.code === 130) || agentStoppedByUs;
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
      onLine: (line) => this.#typed.add(line),
      onEof: () => {
        if (this.#talk?.mode !== "text") return;
        this.#typed.end();
      },
      onInterrupt: () => this.#end.interrupt("you pressed Ctrl+C", { kind: "key" }),
      onEdit: (buf) => this.ui.setInput(buf),
      onKey: (key, typing) => this.#talk?.onKey(key, typing) ?? false,
    });
  }

  #printTail(): void {
    const tail = this.#agent?.logs.tail(12) ?? [];
    if (tail.length === 0) this.ui.errLine(this.ui.dim("  (no output)"));
    for (const l of tail) this.ui.errLine(this.ui.dim(`  │ ${l}`));
    if (this.#opts.logFile) this.ui.errLine(this.ui.dim(`  full log: ${this.#opts.logFile}`));
  }

  #summary(how: "closed" | "exited", modelsFailed = false): void {
    printSummary(this.ui, {
      how,
      modelsFailed,
      seconds: (performance.now() - this.#connectedAt) / 1000,
      failure: this.#heard?.failure,
      endedBy: this.#end.endedBy,
      stopRequested: this.#end.stopRequestedAt !== undefined,
      agentSpokeAfterStop: this.#events.agentSpokeAfterStop,
      userTurns: this.#events.userTurns,
      agentTurns: this.#events.agentTurns,
      playedSeconds: this.#playout?.playedSeconds ?? 0,
      unplayedSeconds: this.#playout?.unplayedSeconds ?? 0,
      outputWav: this.#files.outputWav &&
        { path: this.#opts.outputWav, seconds: this.#files.outputWav.seconds },
      gatewayLog: this.#gateway?.log,
      latency: this.#latency,
      record: this.#files.record,
    });
  }

  /** Releases everything, whatever happened; safe to call twice. */
  async cleanup(): Promise<void> {
    this.#end.removeSignals();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#input?.stop();
    this.#talk?.stop();
    this.ui.finish();
    // Kills the agent if it still runs, and ends its group by PID either way.
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

/** A child's exit status in words: `exit code N` or `signal SIG...`. */
function describeStatus(st: Deno.CommandStatus): string {
  return st.signal ? `signal ${st.signal}` : `exit code ${st.code}`;
}

function sleep(ms: number, timers: ReturnType<typeof setTimeout>[]): Promise<void> {
  return new Promise((r) => timers.push(setTimeout(r, ms)));
}
