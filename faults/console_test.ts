/**
 * Faults on the goodbye path, at process level, in console mode: the real
 * `main.ts console --connect-addr` in its own process group, dialing a
 * broker written here on a real loopback socket (so the broker can misbehave:
 * reset, never ack), with the in-process gateway stand-in as LiveKit
 * Inference. Each test asserts the exit status, the one `session ended` line
 * with its `end_reason`, no `Uncaught`/unhandled rejection, and that no
 * process of the agent's group is left. Every child is killed by PID in
 * `finally`.
 *
 * Re-measure: `deno test -A faults/console_test.ts` (each test prints
 * `exited N in M ms (bound B ms)`).
 */
import { AgentSession as pb } from "@livekit/protocol";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertLess,
  assertStringIncludes,
} from "@std/assert";
import { agentCommand, AgentProcess, stripAnsi } from "../console/agent_process.ts";
import { encodeMessage, FrameDecoder } from "../console/framing.ts";
import {
  CONSOLE_EXIT_GRACE_MS,
  LIBRARY_CANCEL_WAIT_MS,
  LIBRARY_CLOSE_COMMIT_MS,
} from "../core/bounds.ts";
import {
  type Gateway,
  type LlmBrain,
  offlineBrain,
  startGateway,
  synthesizeVoice,
  ttsDurationMs,
} from "../simulation/mod.ts";
import { startCpuLoad } from "../testing/cpu_load.ts";
import { MAIN } from "../testing/process.ts";
import { until } from "../testing/wait.ts";

/** GOODBYE_TIMEOUT_MS given to the agent under test. */
const G = 1_500;
/** Start-up of a `deno run` agent process (import, prewarm) is not what is measured. */
const CONNECT_MS = 60_000;
/** From the ending to exit: goodbye bound, agents-js's fixed waits, the console exit grace. */
const EXIT_BOUND_MS = G + LIBRARY_CANCEL_WAIT_MS + LIBRARY_CLOSE_COMMIT_MS + CONSOLE_EXIT_GRACE_MS +
  1_000; // teardown (transport, log flush) after Close

/** The goodbye turn answers with the tool only, so the goodbye is the only speech. */
const toolOnly: LlmBrain = (req) => {
  const last = req.messages.at(-1);
  return last?.role === "user" ? { toolCalls: [{ name: "end_session", arguments: "{}" }] } : {
    text: "Hello.",
  };
};

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
interface BrokerPlan {
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
class RawBroker {
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

interface Run {
  agent: AgentProcess;
  broker: RawBroker;
  gw: Gateway;
  lines: string[];
  listener: Deno.TcpListener;
}

async function startRun(brain: LlmBrain, plan: BrokerPlan = {}): Promise<Run> {
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

async function endRun(run: Run): Promise<void> {
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
async function exited(run: Run, t0: number, boundMs: number) {
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
function sessionEnded(text: string): string {
  const entries = text.split(/\n(?=\[)/).filter((e) => /\bsession ended: /.test(e.split("\n")[0]));
  assertEquals(entries.length, 1, `expected one 'session ended' entry in:\n${text.slice(-3000)}`);
  return entries[0];
}

Deno.test("console baseline: bye -> end_session -> the goodbye is received in full -> the agent exits by itself with 0", async () => {
  const run = await startRun(offlineBrain());
  try {
    const t0 = performance.now();
    await run.broker.say("bye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    // No signal, no socket close: the agent must end on its own once the goodbye played.
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'goodbye: "played"');
    assertEquals(run.gw.synthesized().at(-1), "Goodbye!");
    // Every millisecond the stand-in synthesized reached the broker (one 48 kHz frame of slack).
    const synthesizedMs = run.gw.log.reduce(
      (sum, e) => e.kind === "tts_audio" ? sum + e.durationMs : sum,
      0,
    );
    assertAlmostEquals(run.broker.audioMs, synthesizedMs, 25);
  } finally {
    await endRun(run);
  }
});

Deno.test("console: the broker never acknowledges the goodbye's playout: bounded, explained, exit 0", async () => {
  const run = await startRun(toolOnly, { ack: false });
  try {
    const t0 = performance.now();
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(text, 'stalled: "playout"');
  } finally {
    await endRun(run);
  }
});

Deno.test("console: the broker resets the socket in the middle of the goodbye: bounded, explained, exit 0", async () => {
  const run = await startRun(toolOnly);
  try {
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const before = run.broker.audioFrames;
    await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
    const t0 = performance.now();
    await run.broker.reset();
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    assertStringIncludes(sessionEnded(text), 'end_reason: "end_session"');
  } finally {
    await endRun(run);
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`console: ${signal} during the goodbye: the goodbye finishes, exit 0, the line names the signal`, async () => {
    const run = await startRun(toolOnly);
    try {
      await run.broker.say("goodbye");
      await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
      const before = run.broker.audioFrames;
      await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
      const t0 = performance.now();
      run.agent.signal(signal);
      const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
      assertEquals(status.code, 0);
      const line = sessionEnded(text);
      assertStringIncludes(line, 'end_reason: "end_session"');
      assertStringIncludes(line, `"${signal}"`);
      assertStringIncludes(line, 'goodbye: "played"');
    } finally {
      await endRun(run);
    }
  });
}

Deno.test("console: SIGINT mid-conversation ends the session with end_reason sigint, and the goodbye is heard", async () => {
  const run = await startRun(offlineBrain());
  try {
    await run.broker.say("hello");
    await run.broker.until(() => run.broker.audioFrames > 0, CONNECT_MS, "the reply's audio");
    const t0 = performance.now();
    run.agent.signal("SIGINT");
    // Close interrupts the reply (drain 0), then the goodbye.
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS);
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "sigint"');
    assertStringIncludes(line, 'goodbye: "played"');
    assert(run.gw.synthesized().includes("Goodbye!"));
  } finally {
    await endRun(run);
  }
});

Deno.test("console: a second signal during the goodbye exits at once (130), with one line saying so", async () => {
  // Never acked: the goodbye would otherwise take the whole goodbye bound.
  const run = await startRun(toolOnly, { ack: false });
  try {
    await run.broker.say("goodbye");
    await run.broker.until(() => run.broker.endSessionCalled(), CONNECT_MS, "end_session");
    const before = run.broker.audioFrames;
    await run.broker.until(() => run.broker.audioFrames > before, 10_000, "goodbye audio");
    run.agent.signal("SIGTERM");
    // Two distinct signals, not one coalesced: the second goes once the first was handled.
    await until(
      () => run.lines.some((l) => l.includes("SIGTERM received; ending the session")) || undefined,
      10_000,
      "the agent to handle the first signal",
    );
    const t0 = performance.now();
    run.agent.signal("SIGINT");
    const { status, text } = await exited(run, t0, 1_000);
    assertEquals(status.code, 130);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'forced: "second SIGINT"');
  } finally {
    await endRun(run);
  }
});

Deno.test("console: typed and spoken input during the ending, both cores busy: no reply, the goodbye received in full and last, exit 0", async () => {
  await using _load = startCpuLoad();
  // A long farewell in the end_session turn, so the input lands well inside the ending.
  const farewell = "It was really nice talking to you today, take care and have a lovely evening.";
  const brain: LlmBrain = (req) =>
    req.messages.at(-1)?.role === "user"
      ? { text: farewell, toolCalls: [{ name: "end_session", arguments: "{}" }] }
      : { text: "Hello." };
  const run = await startRun(brain, { audioIn: true });
  try {
    await run.broker.say("bye");
    // end_session runs while the farewell is synthesized; the user talks over it.
    await run.broker.until(() => run.broker.audioFrames > 0, CONNECT_MS, "the farewell's audio");
    const t0 = performance.now();
    const spoken = run.broker.speak("and one more thing before you go");
    // Typed as soon as the broker hears of end_session (the console protocol's
    // run_input: agents-js force-interrupts the current speech first) ...
    await run.broker.until(() => run.broker.endSessionCalled(), 20_000, "end_session");
    const typed = [await run.broker.say("Wait, what is the weather like?")];
    // ... and again as the goodbye is synthesized.
    await run.gw.waitFor((e) => e.kind === "tts_transcript" && e.text === "Goodbye!", 20_000);
    typed.push(await run.broker.say("Tell me a joke first."));
    await spoken;
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS + ttsDurationMs(farewell));
    assertEquals(status.code, 0);
    const line = sessionEnded(text);
    assertStringIncludes(line, 'end_reason: "end_session"');
    assertStringIncludes(line, 'goodbye: "played"');

    assertEquals(
      run.gw.log.filter((e) => e.kind === "llm_request").length,
      1,
      "the LLM was asked about input that arrived during the ending",
    );
    assert(
      run.gw.log.some((e) => e.kind === "stt_final"),
      "the spoken input never reached the agent's STT: the test proved nothing",
    );
    const synthesized = run.gw.synthesized();
    assertEquals(synthesized.at(-1), "Goodbye!");
    assertEquals(synthesized.filter((t) => t === "Goodbye!").length, 1);
    for (const t of synthesized.slice(0, -1)) {
      assert(farewell.includes(t), `"${t}" was synthesized during the ending`);
    }
    // The LLM's own farewell may be cut here: the user's voice barges in on it, as on any reply
    // (README; typed input alone does not cut it, see the next test). The goodbye is not cut.
    const goodbye = run.broker.segments.at(-1)!;
    assertEquals(goodbye.cleared, false, "the goodbye was cut");
    // Two 20 ms frames of slack: the resampler's frame boundaries and its flush.
    assertAlmostEquals(goodbye.ms, ttsDurationMs("Goodbye!"), 40);
    for (const id of typed) {
      const response = run.broker.responses.get(id);
      assert(response?.error, `run_input ${id} during the ending got a reply: ${response}`);
    }
  } finally {
    await endRun(run);
  }
});

Deno.test("console: typed input during the LLM's farewell (agents-js's run_input force-interrupts): no reply, the farewell and the goodbye play in full", async () => {
  const farewell = "It was really nice talking to you today, take care and have a lovely evening.";
  const brain: LlmBrain = (req) =>
    req.messages.at(-1)?.role === "user"
      ? { text: farewell, toolCalls: [{ name: "end_session", arguments: "{}" }] }
      : { text: "Hello." };
  const run = await startRun(brain);
  try {
    await run.broker.say("bye");
    // The broker hears of end_session only once the turn's speech has played; the agent's log
    // says when it runs (agents-js logs the call, then runs the tool, which starts the ending).
    await until(
      () => run.lines.some((l) => l.includes("Executing LLM tool call")) || undefined,
      CONNECT_MS,
      "end_session to run",
    );
    await run.broker.until(() => run.broker.audioFrames > 0, 20_000, "the farewell's audio");
    const t0 = performance.now();
    const farewellSegment = run.broker.segments.at(-1)!;
    const typed = await run.broker.say("Wait, what is the weather like?");
    assert(!farewellSegment.played, "the farewell had finished before the input: proved nothing");
    const { status, text } = await exited(run, t0, EXIT_BOUND_MS + ttsDurationMs(farewell));
    assertEquals(status.code, 0);
    assertStringIncludes(sessionEnded(text), 'goodbye: "played"');
    assert(run.broker.responses.get(typed)?.error, "the typed input during the ending got a reply");
    const [said, goodbye] = run.broker.segments.slice(-2);
    assertEquals(said.cleared, false, "the LLM's farewell was cut");
    assert(said.played, "the LLM's farewell never finished playing");
    assertAlmostEquals(said.ms, ttsDurationMs(farewell), 40, "the farewell did not arrive whole");
    assertEquals(goodbye.cleared, false, "the goodbye was cut");
    assertAlmostEquals(goodbye.ms, ttsDurationMs("Goodbye!"), 40);
  } finally {
    await endRun(run);
  }
});
