/**
 * `--input-wav`: a recording replayed as a reproducible script of user turns.
 *
 * The rule: the file is cut into utterances, bursts of sound separated by at
 * least {@link SPLIT_SILENCE_MS} of silence. Each utterance starts at its
 * place in the file, but never while the agent is busy: when the agent is
 * still thinking or speaking then, or has not yet answered the previous
 * utterance, the utterance waits (the microphone keeps streaming silence)
 * until the agent has answered and gone quiet. So every utterance becomes
 * exactly one user turn, whatever the agent is doing when its time comes, and
 * a file gives the same turns whatever the models' latencies. (A live
 * microphone behaves otherwise: agents-js ignores the user during the first
 * seconds of the agent's speech, and speech over the agent interrupts it.)
 * Once the file has ended and the agent has answered its last turn, the
 * replay is finished and the console ends the session as at the end of input.
 *
 * Pure except for the wall-clock pacing in {@link ReplayMic.start}: the
 * segmentation, the frame source and the turn gate are driven directly by
 * the tests.
 *
 * @module
 */
import { MIC_FRAME_SAMPLES, WIRE_SAMPLE_RATE } from "./broker.ts";
import { type MonoPcm, resampleLinear } from "./wav.ts";

/** Silence that separates two utterances; shorter pauses stay inside one. */
export const SPLIT_SILENCE_MS = 1000;
/** Sound shorter than this (clicks, pops) is not an utterance. */
export const MIN_UTTERANCE_MS = 100;
/** Lead-in kept before an utterance's first sound, so the VAD hears its onset. */
export const PREROLL_MS = 200;
/** How long after an utterance ends the agent gets to take it as a user turn. */
export const HEARD_BOUND_MS = 10_000;
/** How long after the user turn the agent gets to finish answering it. */
export const ANSWER_BOUND_MS = 120_000;
/** An agent that stays listening this long after a user turn is taken not to answer it. */
export const NO_ANSWER_QUIET_MS = 3_000;

const BLOCK_MS = 10;

/** One utterance, in samples of the replayed (48 kHz) audio: `[start, end)`, preroll included. */
export interface Utterance {
  start: number;
  end: number;
}

/**
 * Finds the utterances of `samples`: 10 ms blocks louder than a threshold
 * set 12 dB above the recording's own noise floor (between -50 and -30 dBFS),
 * merged across pauses shorter than {@link SPLIT_SILENCE_MS}.
 */
export function findUtterances(samples: Int16Array, rate: number): Utterance[] {
  const block = Math.max(1, Math.round(rate * BLOCK_MS / 1000));
  const levels: number[] = [];
  for (let off = 0; off < samples.length; off += block) {
    const end = Math.min(samples.length, off + block);
    let acc = 0;
    for (let i = off; i < end; i++) acc += samples[i] * samples[i];
    const rms = Math.sqrt(acc / (end - off)) / 32768;
    levels.push(rms > 0 ? 20 * Math.log10(rms) : -Infinity);
  }
  if (levels.length === 0) return [];
  const sorted = [...levels].sort((a, b) => a - b);
  const floor = sorted[Math.floor(sorted.length * 0.1)];
  const threshold = Math.min(-30, Math.max(-50, floor + 12));
  const splitBlocks = SPLIT_SILENCE_MS / BLOCK_MS;
  const runs: { from: number; to: number; voiced: number }[] = [];
  for (let b = 0; b < levels.length; b++) {
    if (levels[b] < threshold) continue;
    const last = runs.at(-1);
    if (last && b - last.to < splitBlocks) {
      last.to = b + 1;
      last.voiced++;
    } else runs.push({ from: b, to: b + 1, voiced: 1 });
  }
  const preroll = Math.round(rate * PREROLL_MS / 1000);
  const out: Utterance[] = [];
  for (const r of runs) {
    if (r.voiced * BLOCK_MS < MIN_UTTERANCE_MS) continue;
    const prevEnd = out.at(-1)?.end ?? 0;
    out.push({
      start: Math.max(prevEnd, r.from * block - preroll),
      end: Math.min(samples.length, r.to * block),
    });
  }
  return out;
}

/** What the replay reports as it goes. */
export type ReplayEvent =
  | { type: "start"; index: number; atS: number }
  | { type: "end"; index: number }
  | { type: "waiting"; index: number }
  | { type: "eof" };

/**
 * The frame source of a replay: 30 ms frames of the recording at 48 kHz, in
 * order, except that an utterance only begins when the gate says so; until
 * then, silence (the file does not advance). After the file, silence.
 */
export class ReplaySource {
  readonly samples: Int16Array;
  readonly utterances: readonly Utterance[];
  #cursor = 0;
  #next = 0; // index of the next utterance to start
  #inside = -1; // index of the utterance being played, or -1
  #waitingReported = -1;
  #eof = false;

  constructor(pcm: MonoPcm) {
    this.samples = resampleLinear(pcm.samples, pcm.sampleRate, WIRE_SAMPLE_RATE);
    this.utterances = findUtterances(this.samples, WIRE_SAMPLE_RATE);
  }

  /** Seconds of recording. */
  get seconds(): number {
    return this.samples.length / WIRE_SAMPLE_RATE;
  }

  /** True once every sample of the file has been sent. */
  get ended(): boolean {
    return this.#eof;
  }

  /**
   * The next frame, and what happened with it. `mayStart(i)` is asked when
   * utterance `i` is due; while it answers false the file waits.
   */
  nextFrame(mayStart: (index: number) => boolean): { frame: Int16Array; events: ReplayEvent[] } {
    const events: ReplayEvent[] = [];
    const frame = new Int16Array(MIC_FRAME_SAMPLES);
    const due = this.utterances[this.#next];
    if (this.#inside < 0 && due && due.start < this.#cursor + MIC_FRAME_SAMPLES) {
      if (!mayStart(this.#next)) {
        if (this.#waitingReported !== this.#next) {
          this.#waitingReported = this.#next;
          events.push({ type: "waiting", index: this.#next });
        }
        return { frame, events }; // silence; the file waits
      }
      this.#inside = this.#next++;
      events.push({ type: "start", index: this.#inside, atS: due.start / WIRE_SAMPLE_RATE });
    }
    const end = Math.min(this.samples.length, this.#cursor + MIC_FRAME_SAMPLES);
    if (this.#cursor < end) frame.set(this.samples.subarray(this.#cursor, end));
    this.#cursor = end;
    if (this.#inside >= 0 && this.#cursor >= this.utterances[this.#inside].end) {
      events.push({ type: "end", index: this.#inside });
      this.#inside = -1;
    }
    if (!this.#eof && this.#cursor >= this.samples.length && this.#next >= this.utterances.length) {
      this.#eof = true;
      events.push({ type: "eof" });
    }
    return { frame, events };
  }
}

/** Agent states as the gate needs them. */
export type GateAgentState = "initializing" | "idle" | "listening" | "thinking" | "speaking";

/** A turn that ended without the expected answer, for one warning line. */
export interface ReplayNote {
  index: number;
  why: "not_heard" | "not_answered";
}

/**
 * Decides when the next utterance may start: the agent is quiet (listening,
 * nothing playing) and has answered the previous utterance (a user turn was
 * added, then a reply), each wait bounded. Fed by the console's events.
 */
export class TurnGate {
  readonly #playing: () => boolean;
  #state: GateAgentState = "initializing";
  #pending?: {
    index: number;
    endedAt?: number;
    heardAt?: number;
    answered: boolean;
    quietSince?: number;
  };
  #notes: ReplayNote[] = [];

  /** `playing` tells whether the agent's audio is still being played out. */
  constructor(playing: () => boolean) {
    this.#playing = playing;
  }

  /** The agent's state changed. */
  agentState(state: GateAgentState, now = performance.now()): void {
    this.#state = state;
    const p = this.#pending;
    if (p?.heardAt !== undefined && !p.answered) {
      p.quietSince = state === "listening" || state === "idle" ? now : undefined;
    }
  }

  /** Utterance `index` began streaming. */
  started(index: number): void {
    this.#pending = { index, answered: false };
  }

  /** Utterance `index` has been streamed in full. */
  ended(index: number, now = performance.now()): void {
    if (this.#pending?.index === index) this.#pending.endedAt = now;
  }

  /** The agent added the user's turn (a transcribed user message). */
  userTurn(now = performance.now()): void {
    const p = this.#pending;
    if (!p || p.heardAt !== undefined) return;
    p.heardAt = now;
    p.quietSince = this.#quiet() ? now : undefined;
  }

  /** The agent replied (an assistant message or a tool call). */
  replied(): void {
    const p = this.#pending;
    if (p && p.heardAt !== undefined) p.answered = true;
  }

  /** Warnings about turns that were given up on since the last call. */
  takeNotes(): ReplayNote[] {
    return this.#notes.splice(0);
  }

  /** True when the agent is quiet and the previous utterance has been answered (or given up on). */
  mayStart(now = performance.now()): boolean {
    return this.#settled(now) && this.#quiet();
  }

  #quiet(): boolean {
    return (this.#state === "listening" || this.#state === "idle") && !this.#playing();
  }

  #settled(now: number): boolean {
    const p = this.#pending;
    if (!p) return true;
    if (p.endedAt === undefined) return false; // still streaming
    if (p.heardAt === undefined) {
      if (now - p.endedAt < HEARD_BOUND_MS) return false;
      this.#giveUp("not_heard");
      return true;
    }
    if (p.answered && this.#quiet()) {
      this.#pending = undefined;
      return true;
    }
    if (p.quietSince !== undefined && now - p.quietSince >= NO_ANSWER_QUIET_MS) {
      this.#pending = undefined; // the agent chose not to answer
      return true;
    }
    if (now - p.heardAt >= ANSWER_BOUND_MS) {
      this.#giveUp("not_answered");
      return true;
    }
    return false;
  }

  #giveUp(why: ReplayNote["why"]): void {
    this.#notes.push({ index: this.#pending!.index, why });
    this.#pending = undefined;
  }
}

/** What a running {@link Replay} tells the console. */
export interface ReplayHandlers {
  /** Every frame to send as the microphone (silence while an utterance waits). */
  send(frame: Int16Array): void;
  /** Utterance `index` (0-based) starts; `atS` is where it is in the file. */
  onUtterance?(index: number, atS: number): void;
  /** Utterance `index` is due but waits for the agent. */
  onWaiting?(index: number): void;
  /** A turn was given up on after its bound. */
  onNote?(note: ReplayNote): void;
  /** The file has ended and the agent has answered its last turn. */
  onFinished(): void;
}

/**
 * A running replay: a {@link ReplaySource} paced against the wall clock in
 * 30 ms frames (timer jitter never accumulates; a late timer catches up by at
 * most 200 ms at a time), with a {@link TurnGate} deciding when each utterance
 * may start. The console forwards the agent's events to it.
 */
export class Replay {
  readonly source: ReplaySource;
  readonly gate: TurnGate;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #finished = false;

  constructor(pcm: MonoPcm, playing: () => boolean) {
    this.source = new ReplaySource(pcm);
    this.gate = new TurnGate(playing);
  }

  /** Starts streaming; returns at once. */
  start(h: ReplayHandlers): void {
    const frameMs = MIC_FRAME_SAMPLES / WIRE_SAMPLE_RATE * 1000;
    const t0 = performance.now();
    let sent = 0;
    const mayStart = () => this.gate.mayStart();
    const tick = () => {
      if (this.#stopped) return;
      const due = Math.floor((performance.now() - t0) / frameMs) + 1;
      for (let n = 0; sent < due && n < 7 && !this.#stopped; n++, sent++) {
        const { frame, events } = this.source.nextFrame(mayStart);
        h.send(frame);
        for (const e of events) {
          if (e.type === "start") {
            this.gate.started(e.index);
            h.onUtterance?.(e.index, e.atS);
          } else if (e.type === "end") this.gate.ended(e.index);
          else if (e.type === "waiting") h.onWaiting?.(e.index);
        }
        for (const note of this.gate.takeNotes()) h.onNote?.(note);
        if (!this.#finished && this.source.ended && this.gate.mayStart()) {
          this.#finished = true;
          for (const note of this.gate.takeNotes()) h.onNote?.(note);
          h.onFinished();
        }
      }
      if (this.#stopped) return;
      this.#timer = setTimeout(tick, Math.max(0, t0 + sent * frameMs - performance.now()));
    };
    tick();
  }

  /** Stops the stream (the session is ending). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
