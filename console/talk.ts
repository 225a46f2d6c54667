/**
 * How the user talks to the agent, and everything that goes with it: the
 * sound card (opened at start, or on the first Ctrl+T), the voice / text /
 * WAV-replay modes and the switch between them (`update_io`, as
 * `lk agent console` does), the mic path (mute, echo gate, level meter,
 * `--record`), the `--input-wav` replay, the keys and the status line hints.
 * The console run (console_run.ts) creates one, forwards the agent's events
 * to it (event_view.ts), and hears from it when a replay has finished.
 *
 * @module
 */
import { type BrokerSession, MIC_FRAME_SAMPLES } from "./broker.ts";
import { type InputMode, keyAction, keysLine, statusHint } from "./keys.ts";
import { MicPath } from "./mic_path.ts";
import type { ConsoleOptions } from "./options.ts";
import type { Playout } from "./playout.ts";
import type { AudioDevices } from "./portaudio.ts";
import type { SessionRecorder } from "./recorder.ts";
import { Replay } from "./replay.ts";
import { checkDeviceChoice, openSound } from "./sound.ts";
import type { AgentStateName, ConsoleUi } from "./ui.ts";
import type { MonoPcm } from "./wav.ts";

/** What {@link Talk} needs from the console. */
export interface TalkOptions {
  ui: ConsoleUi;
  opts: ConsoleOptions;
  /** The recording `--input-wav` replays. */
  inputPcm?: MonoPcm;
  /** `--record`'s tracks. */
  record?: SessionRecorder;
  /** Switches the line editor between command keys (voice) and typing. */
  setCommandMode: (on: boolean) => void;
  /** The replay has ended and the agent answered its last turn. */
  onReplayFinished: (file: string) => void;
}

/** The talking side of one console run. */
export class Talk {
  mode: InputMode;
  devices?: AudioDevices;
  readonly #o: TalkOptions;
  #playout?: Playout;
  #broker?: BrokerSession;
  #micPath?: MicPath;
  #replay?: Replay;
  #agentState: AgentStateName = "initializing";
  #switching = false;
  #running = false;
  #sttScript?: readonly string[];
  #sttNoted = false;
  #notes: (() => void)[] = [];

  constructor(o: TalkOptions) {
    this.#o = o;
    this.mode = o.opts.text ? "text" : o.opts.inputWav ? "wav" : "voice";
  }

  /**
   * Opens what the mode needs and settles the mode (voice falls back to text
   * without a sound card); a named device that cannot be used is a mistake
   * (false: exit 2, nothing started). What it has to say (one line for what
   * is missing) waits for {@link sayDeviceNotes}, so the banner can name the
   * mode the console really runs in before it.
   */
  openDevices(): boolean {
    const { opts } = this.#o;
    const ui = {
      error: (m: string) => this.#notes.push(() => this.#o.ui.error(m)),
      warn: (m: string) => this.#notes.push(() => this.#o.ui.warn(m)),
      info: (m: string) => this.#notes.push(() => this.#o.ui.info(m)),
    };
    if (this.mode !== "text" && opts.devices) {
      const sound = openSound(this.mode === "voice", opts);
      if (sound.kind === "mistake") {
        ui.error(sound.message);
        return false;
      }
      if (sound.kind === "degraded") {
        if (this.mode === "wav") {
          ui.info(`${sound.note}; the agent's speech is timed, not played`);
        } else {
          this.mode = "text";
          ui.warn(
            sound.devices
              ? `${sound.note}; continuing in text mode, the agent's voice on the speakers`
              : `${sound.note}; continuing in text mode`,
          );
        }
      }
      this.devices = sound.devices;
      if (this.devices?.outputName) {
        const mic = this.devices.inputName ? ` · microphone: ${this.devices.inputName}` : "";
        ui.info(`speaker: ${this.devices.outputName}${mic}`);
      }
    } else if (this.mode === "voice") {
      this.mode = "text";
      ui.info("sound devices disabled (--no-devices); continuing in text mode");
    } else {
      // Text mode keeps a named device for Ctrl+T: check it now, while a typo costs nothing.
      const mistake = checkDeviceChoice(opts);
      if (mistake) {
        ui.error(mistake);
        return false;
      }
    }
    return true;
  }

  /** Prints what {@link openDevices} had to say, once. */
  sayDeviceNotes(): void {
    for (const say of this.#notes.splice(0)) say();
  }

  /** True while the agent's replies are shown as they come, their audio unpaced (playout.ts). */
  get repliesUnpaced(): boolean {
    return this.#playout?.unpaced ?? false;
  }

  /** The mode as the banner names it. */
  modeLabel(): string {
    const { opts } = this.#o;
    if (this.mode === "text") return opts.silent ? "text (no speech)" : "text";
    return this.mode === "wav" ? `voice from ${opts.inputWav}` : "voice";
  }

  /**
   * The offline simulation's scripted STT: it does not listen, it reads these
   * lines in turn. Said once, as soon as the user speaks rather than types.
   */
  simulatedStt(script: readonly string[]): void {
    this.#sttScript = script;
    if (this.mode !== "text") this.#sttNote();
  }

  /** The session is up: the agent's broker and the playout the agent's audio goes to. */
  attach(broker: BrokerSession, playout: Playout): void {
    this.#broker = broker;
    this.#playout = playout;
    this.#running = true;
    playout.textMode = this.mode === "text";
  }

  /** Starts the microphone of the current mode (after the agent's first message). */
  startMic(): void {
    const broker = this.#broker;
    if (!broker || broker.isClosed || !this.#running) return;
    const { ui, opts } = this.#o;
    const playing = () => this.#playout?.playing ?? false;
    if (this.mode === "wav" && this.#o.inputPcm) {
      this.#micPath = new MicPath({
        send: (frame) => void broker.sendMic(frame),
        playing,
        echoGate: false, // a recording has no echo
        record: this.#o.record?.user,
      });
      const file = opts.inputWav!;
      const replay = new Replay(this.#o.inputPcm, playing);
      replay.gate.agentState(this.#agentState);
      this.#replay = replay;
      const n = replay.source.utterances.length;
      ui.info(
        `replaying ${file} (${replay.source.seconds.toFixed(1)} s, ${n} utterance${
          n === 1 ? "" : "s"
        }) as the microphone; each utterance waits until the agent has answered the one before`,
      );
      replay.start({
        send: (frame) => this.#micPath?.push(frame),
        onNote: (note) =>
          ui.warn(
            note.why === "not_heard"
              ? `utterance ${note.index + 1} of ${file} was not taken as a user turn; going on`
              : `the agent did not finish answering utterance ${
                note.index + 1
              } of ${file}; going on`,
          ),
        onFinished: () => {
          if (!this.#running) return;
          ui.info(`${file} ended and the agent answered its last turn`);
          this.#o.onReplayFinished(file);
        },
      });
    } else if (this.mode === "voice" && this.devices?.input) {
      this.#micPath ??= new MicPath({
        send: (frame) => {
          if (!broker.isClosed) void broker.sendMic(frame);
        },
        playing,
        echoGate: !opts.bargeIn,
        record: this.#o.record?.user,
      });
      const path = this.#micPath;
      this.devices.input.start(MIC_FRAME_SAMPLES, (frame) => path.push(frame));
    }
    this.hints();
  }

  /** The session is ending: no more utterances, no more keys acting on it. */
  stop(): void {
    this.#running = false;
    this.#replay?.stop();
    if (this.#micPath) this.#micPath.paused = true;
  }

  /** The agent's state changed. */
  agentState(state: AgentStateName): void {
    this.#agentState = state;
    this.#replay?.gate.agentState(state);
  }

  /** The agent added a transcribed user turn. */
  userTurn(): void {
    this.#replay?.gate.userTurn();
  }

  /** The agent replied (a message or a tool call). */
  replied(): void {
    this.#replay?.gate.replied();
  }

  /** Hint, prompt, key mode and level meter for the current mode. */
  hints(): void {
    const { ui } = this.#o;
    ui.setHint(statusHint(this.mode));
    const typed = this.mode === "text" || Deno.stdin.isTerminal();
    ui.setInput(ui.tty && typed && this.mode !== "voice" ? "" : undefined);
    // Voice on a terminal: keys are commands (m, Ctrl+T, ?); elsewhere they type.
    this.#o.setCommandMode(this.mode === "voice");
    ui.setMeter(
      this.#micPath && this.mode !== "text"
        ? () => this.#micPath?.gauge(this.mode === "wav" ? "wav" : "mic")
        : undefined,
    );
  }

  /** A key that may be a command; true when it was one (it is then not typed). */
  onKey(key: string, typing: boolean): boolean {
    const action = keyAction(this.mode, key, typing);
    if (!action || !this.#running) return action !== undefined;
    const { ui } = this.#o;
    if (action === "keys") ui.info(keysLine(this.mode));
    else if (action === "mute" && this.#micPath) {
      ui.info(this.#micPath.toggleMute() ? "microphone muted (m to unmute)" : "microphone on");
    } else if (action === "switch") void this.switchMode();
    return true;
  }

  /** Ctrl+T: text <-> voice, as `lk agent console` does it (`update_io` on the agent's side). */
  async switchMode(): Promise<void> {
    const broker = this.#broker;
    const { ui, opts } = this.#o;
    if (!broker || this.#switching) return;
    if (this.mode === "wav") {
      ui.info(`Ctrl+T does nothing while ${opts.inputWav} is the microphone`);
      return;
    }
    if (!opts.devices) {
      ui.info("sound devices are off (--no-devices); staying in text mode");
      return;
    }
    this.#switching = true;
    try {
      if (this.mode === "voice") {
        this.mode = "text";
        if (this.#playout) this.#playout.textMode = true;
        if (this.#micPath) this.#micPath.paused = true;
        ui.info("text mode: type a message and press Enter (Ctrl+T to speak)");
        this.hints();
        await broker.updateIo({ audioIn: false, audioOut: !opts.silent });
        return;
      }
      if (!this.devices?.input && !await this.#openMic()) return;
      if (!this.#running) return;
      this.mode = "voice";
      if (this.#playout) this.#playout.textMode = false;
      await broker.updateIo({ audioIn: true, audioOut: true });
      this.startMic();
      if (this.#micPath) this.#micPath.paused = false;
      ui.info("voice mode: speak (m mutes, Ctrl+T to type)");
      this.hints();
    } catch (e) {
      if (!broker.isClosed) ui.warn(`could not switch modes (${(e as Error).message})`);
    } finally {
      this.#switching = false;
    }
  }

  /** Releases the sound card. */
  async close(): Promise<void> {
    this.stop();
    await this.devices?.close();
  }

  // The first switch to voice of a console that started without a microphone.
  async #openMic(): Promise<boolean> {
    const { ui, opts } = this.#o;
    const sound = openSound(true, opts);
    if (sound.kind !== "open") {
      ui.warn(`${sound.kind === "mistake" ? sound.message : sound.note}; staying in text mode`);
      if (sound.kind === "degraded") await sound.devices?.close();
      return false;
    }
    const old = this.devices;
    this.devices = sound.devices;
    this.#playout?.setDevice(sound.devices.output);
    await old?.close();
    ui.info(`speaker: ${sound.devices.outputName} · microphone: ${sound.devices.inputName}`);
    this.#sttNote();
    return true;
  }

  #sttNote(): void {
    if (!this.#sttScript || this.#sttNoted) return;
    this.#sttNoted = true;
    this.#o.ui.info(
      `the simulated speech recognizer does not listen to words: it hears each thing said as the next line of ${
        this.#sttScript.map((t) => `"${t}"`).join(" → ")
      }, then again from the top`,
    );
  }
}
