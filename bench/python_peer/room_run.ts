/**
 * The Python peer in a real LiveKit room, until `testbed/`'s server runner and caller land: a
 * real `livekit-server` (built from the Go module proxy), the loopback Inference gateway, the
 * recipe's worker (`start`) and a caller on `@livekit/rtc-node`, all inside a network namespace
 * this module creates (libwebrtc skips loopback, so the server advertises a veth address of the
 * namespace: no packet can leave it). Needs root (for `unshare --net`) and the server binary.
 *
 * Scenarios: `bye` (the caller says hello, hears the reply, says bye, waits for the goodbye and
 * then for its disconnect) and `hangup` (the caller says hello, hears the reply and hangs up).
 * What the caller says maps to the gateway's scripted STT transcripts, one per utterance: a
 * 1 s tone is "Hello there!", the next one "Okay, thanks. Goodbye!".
 *
 * @module
 */
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  dispose,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import { startGateway, synthesizeVoice } from "../../simulation/mod.ts";
import { benchBrain, LATENCY } from "../console_run.ts";
import { join } from "../node_peer/paths.ts";
import { Child, killPids, sleep, TreeSampler } from "../proc.ts";
import { exitFlowTasks, type StuckTask } from "./console_run.ts";
import { parseLogLine, startPythonWorker, waitRegistered } from "./launcher.ts";
import type { PythonPeer } from "./setup.ts";

/** The address the namespace's veth end gets; the server advertises it to WebRTC peers. */
export const NETNS_ADDR = "10.213.0.1";
/** Set in the environment of the process re-executed inside the namespace. */
export const NETNS_ENV = "EXIT_MESSAGE_PYTHON_PEER_NETNS";
/** Where the project's build of `livekit-server` v1.13.5 lives unless `LIVEKIT_SERVER_BIN` says. */
export function serverBinary(): string {
  return Deno.env.get("LIVEKIT_SERVER_BIN") ||
    join(Deno.env.get("HOME") ?? "/root", ".cache/exit-message/bin/server");
}

/** Why a room run cannot happen on this machine, or undefined when it can. */
export function roomUnavailable(): string | undefined {
  try {
    if (!Deno.statSync(serverBinary()).isFile) throw new Error();
  } catch {
    return `no livekit-server at ${serverBinary()} (build it: CGO_ENABLED=0 GOBIN=$HOME/.cache/exit-message/bin ` +
      `go install github.com/livekit/livekit-server/cmd/server@v1.13.5)`;
  }
  if (Deno.uid() !== 0) return "creating a network namespace needs root (unshare --net)";
  return undefined;
}

/** True when this process runs inside the namespace {@link execInNetns} created. */
export function insideNetns(): boolean {
  return Deno.env.get(NETNS_ENV) === "1";
}

/**
 * Runs `deno run -A --config <deno.json> <module> ...args` inside a fresh network namespace
 * holding `lo` and a veth pair (`em0` = {@link NETNS_ADDR}/24); resolves with its exit code.
 * The namespace dies with the process.
 */
export async function execInNetns(module: string, config: string, args: string[]): Promise<number> {
  const setup = [
    "ip link set lo up",
    "ip link add em0 type veth peer name em1",
    `ip addr add ${NETNS_ADDR}/24 dev em0`,
    "ip link set em0 up",
    "ip link set em1 up",
    'exec "$@"',
  ].join(" && ");
  const out = await new Deno.Command("unshare", {
    args: [
      "--net",
      "--",
      "sh",
      "-c",
      setup,
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      config,
      module,
      ...args,
    ],
    // NODE_ENV=production: rtc-node's own logger (the caller's) at info instead of debug.
    env: { ...Deno.env.toObject(), [NETNS_ENV]: "1", NODE_ENV: "production" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return out.code;
}

const KEY = "roomkey";
/** How long a caller waits in a fresh room for the agent before trying another room. */
export const DISPATCH_WAIT_MS = 10_000;
/** Rooms tried before a run reports that no agent came. */
export const DISPATCH_ATTEMPTS = 5;

/** A `livekit-server` on 127.0.0.1:7880 and {@link NETNS_ADDR} (inside the namespace only). */
export async function startServer(secret: string, timeoutMs = 15_000): Promise<Child> {
  const config = [
    "port: 7880",
    `bind_addresses: ["127.0.0.1", "${NETNS_ADDR}"]`,
    `keys: { ${KEY}: "${secret}" }`,
    "rtc: { tcp_port: 7881, udp_port: 7882, use_external_ip: false, " +
    `node_ip: ${NETNS_ADDR}, enable_loopback_candidate: false }`,
    "logging: { level: info }",
  ].join("\n");
  const server = new Child(serverBinary(), ["--config-body", config], {
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/tmp" },
    cwd: "/",
  });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch("http://127.0.0.1:7880/");
      if ((await r.text()).trim() === "OK") return server;
    } catch { /* not listening yet */ }
    if (server.done || performance.now() > deadline) {
      await server.kill();
      throw new Error(`livekit-server did not answer OK within ${timeoutMs} ms:\n${server.tail()}`);
    }
    await sleep(100);
  }
}

/** One stretch of agent audio the caller heard (RMS above the threshold, gaps < 400 ms). */
export interface HeardSegment {
  /** ms from the run's start. */
  start: number;
  end?: number;
  /** Samples (48 kHz) from its first loud frame to its last. */
  samples: number;
}

/** RMS (s16) above which a 10 ms frame of agent audio counts as heard speech. */
export const LOUD_RMS = 300;

/**
 * The span (ms) from the first to the last 10 ms frame of `pcm` whose RMS is above
 * {@link LOUD_RMS}: the same measure the caller applies to what it hears, so the gateway's
 * synthesized audio and the heard audio compare like for like.
 */
export function loudSpanMs(pcm: Int16Array, sampleRate: number): number {
  const n = Math.round(sampleRate / 100);
  let first = -1;
  let last = -1;
  for (let i = 0; i + n <= pcm.length; i += n) {
    let sum = 0;
    for (let k = i; k < i + n; k++) sum += pcm[k] * pcm[k];
    if (Math.sqrt(sum / n) > LOUD_RMS) {
      if (first < 0) first = i;
      last = i + n;
    }
  }
  return first < 0 ? 0 : ((last - first) / sampleRate) * 1000;
}

/** A caller: joins, publishes a microphone that sends silence or a tone, records what it hears. */
class Caller {
  readonly room = new Room();
  readonly heard: HeardSegment[] = [];
  disconnectedAt?: number;
  disconnectReason?: number;
  agentJoinedAt?: number;
  #source = new AudioSource(48000, 1);
  #tone = false;
  #mic?: Promise<void>;
  #stop = false;
  #phase = 0;

  constructor(readonly t0: number) {
    this.room.on(RoomEvent.Disconnected, (reason) => {
      this.disconnectedAt ??= performance.now() - t0;
      this.disconnectReason ??= reason;
    });
    this.room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      this.agentJoinedAt ??= performance.now() - t0;
      void this.#listen(new AudioStream(track, { sampleRate: 48000, numChannels: 1 }), p.identity);
    });
  }

  async #listen(stream: AudioStream, _who: string): Promise<void> {
    let open: HeardSegment | undefined;
    let quiet = 0;
    for await (const f of stream) {
      let sum = 0;
      for (const v of f.data) sum += v * v;
      const loud = Math.sqrt(sum / f.data.length) > LOUD_RMS;
      const now = performance.now() - this.t0;
      if (loud) {
        if (!open) {
          open = { start: now - (f.samplesPerChannel / 48), samples: 0 };
          this.heard.push(open);
        }
        open.samples += quiet + f.samplesPerChannel;
        open.end = now;
        quiet = 0;
      } else if (open) {
        quiet += f.samplesPerChannel;
        if (quiet > 48000 * 0.4) {
          open = undefined;
          quiet = 0;
        }
      }
    }
  }

  /** Connects and publishes the microphone; rejects after `timeoutMs`. */
  async join(url: string, token: string, timeoutMs = 30_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const joined = (async () => {
      await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
      const track = LocalAudioTrack.createAudioTrack("mic", this.#source);
      const opts = new TrackPublishOptions();
      opts.source = TrackSource.SOURCE_MICROPHONE;
      await this.room.localParticipant!.publishTrack(track, opts);
    })();
    try {
      await Promise.race([
        joined,
        new Promise<never>((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`caller did not join within ${timeoutMs} ms`)),
            timeoutMs,
          )
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.#mic = this.#pump();
  }

  /** A microphone paced by captureFrame: 10 ms frames, silence or a 220 Hz tone. */
  async #pump(): Promise<void> {
    const n = 480;
    while (!this.#stop) {
      const d = new Int16Array(n);
      if (this.#tone) {
        for (let j = 0; j < n; j++) {
          d[j] = Math.round(8000 * Math.sin(2 * Math.PI * 220 * this.#phase++ / 48000));
        }
      }
      await this.#source.captureFrame(new AudioFrame(d, 48000, 1, n));
    }
  }

  /** Says one utterance (a tone of `ms`); resolves with when it ended (ms from t0). */
  async say(ms: number): Promise<number> {
    this.#tone = true;
    await sleep(ms);
    this.#tone = false;
    return performance.now() - this.t0;
  }

  /** The first heard segment starting after `t` (ms from t0). */
  segmentAfter(t: number): HeardSegment | undefined {
    return this.heard.find((s) => s.start > t);
  }

  async hangUp(): Promise<void> {
    this.#stop = true;
    await this.#mic;
    if (this.room.isConnected) await this.room.disconnect();
  }
}

/** Polls `check` every 50 ms until it returns a value or `ms` passes (undefined then). */
async function within<T>(ms: number, check: () => T | undefined): Promise<T | undefined> {
  const end = performance.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (performance.now() > end) return undefined;
    await sleep(50);
  }
}

/** What one room run observed (ms from the run's start unless named otherwise). */
export interface PythonRoomRun {
  scenario: "bye" | "hangup";
  /** Worker launch to `registered worker` with the real server. */
  registeredMs: number;
  /** Worker launch to every idle process initialized. */
  prewarmedMs: number;
  /** False when the worker still reported full capacity after 60 s (no dispatch then). */
  workerAvailable: boolean;
  /** Rooms the caller created until an agent came (each waited {@link DISPATCH_WAIT_MS}). */
  dispatchAttempts: number;
  /** The agent joined the room (its audio track reached the caller). */
  agentJoined: boolean;
  /** Room created (caller connected) to the agent's audio track subscribed by the caller. */
  joinToAgentMs?: number;
  /** End of the caller's "hello" to the first audio of the reply it heard. */
  replyLatencyMs?: number;
  /** End of the caller's "bye" to the first audio of the goodbye (bye scenario). */
  byeToGoodbyeAudioMs?: number;
  /** Length of the goodbye as heard (first to last loud frame, {@link loudSpanMs}). */
  goodbyeHeardMs?: number;
  /** The same measure on the audio the gateway synthesizes for "Goodbye!". */
  goodbyeSynthesizedMs: number;
  /** True when the tool's `end_session` was seen executing (Python's `executing tool`). */
  toolStarted: boolean;
  /** True when the job logged its session closed. */
  sessionClosed: boolean;
  /** The caller was disconnected by the server (not by itself) within the bound. */
  callerDisconnected: boolean;
  /** Its reason, by name (`ROOM_DELETED` when the agent deletes the room). */
  disconnectReason?: string;
  /** End of the goodbye to the caller's disconnect, or the bound when it never came. */
  silenceAfterGoodbyeMs?: number;
  /** The bound the caller waited. */
  silenceBoundMs: number;
  /** Rooms the server still lists once the caller gave up waiting (before hanging up). */
  roomsLeft: string[];
  /** What the gateway's TTS was asked to say, in order. */
  said: string[];
  /** Hangup scenario: was a goodbye synthesized after the caller left (paid, unheard)? */
  goodbyeAfterHangup?: boolean;
  /** The job process ended within `jobEndBoundMs` after the caller hung up. */
  jobEndedAfterHangup: boolean;
  /** PID of the job process (from its log lines). */
  jobPid?: number;
  /** Hang-up to the job process's end, when it ended within the bound. */
  hangupToJobEndMs?: number;
  jobEndBoundMs: number;
  /** Pending tasks of the exit flow in the job process when the caller gave up (bye). */
  stuck: StuckTask[];
  /** SIGTERM to the worker after the call: how it ended. */
  sigterm: { code: number; exitMs: number; forced: boolean; leftovers: number; graceMs: number };
  /** Lines of the job's log that tell the story (tool, close, errors), trimmed. */
  jobLog: string[];
}

/** Runs one call against the recipe's worker; must run inside the namespace. */
export async function pythonRoomRun(
  peer: PythonPeer,
  opts: {
    scenario: "bye" | "hangup";
    silenceBoundMs?: number;
    jobEndBoundMs?: number;
    sigtermGraceMs?: number;
  },
): Promise<PythonRoomRun> {
  if (!insideNetns()) throw new Error("pythonRoomRun must run inside execInNetns");
  const silenceBoundMs = opts.silenceBoundMs ?? 20_000;
  const jobEndBoundMs = opts.jobEndBoundMs ?? 45_000;
  const sigtermGraceMs = opts.sigtermGraceMs ?? 20_000;
  const secret = `py-room-${crypto.randomUUID()}`;
  const t0 = performance.now();
  const server = await startServer(secret);
  const gw = await startGateway({
    llm: benchBrain(),
    apiKey: KEY,
    apiSecret: secret,
    latency: LATENCY,
    sttTranscripts: ["Hello there!", "Okay, thanks. Goodbye!"],
  });
  const worker = startPythonWorker(peer, {
    mode: "start",
    livekitUrl: "ws://127.0.0.1:7880",
    apiKey: KEY,
    apiSecret: secret,
    inferenceUrl: gw.url,
    diagnostics: true,
  });
  const sampler = new TreeSampler(worker.pid, 100);
  let caller = new Caller(t0);
  let dispatchAttempts = 0;
  try {
    const c = worker.child;
    const registered = await waitRegistered(worker, 120_000);
    let initialized: number[] = [];
    await within(120_000, () => {
      const lines = c.lines.map((l) => ({ t: l.t, j: parseLogLine(l.line) }));
      const starting = lines.filter((l) => l.j?.message === "initializing process").length;
      initialized = lines.filter((l) => l.j?.message === "process initialized").map((l) => l.t);
      return starting > 0 && initialized.length >= starting ? true : undefined;
    });
    // The server dispatches only at room creation, and only to a worker that reports itself
    // available: on a busy machine the worker's CPU-based load crosses its 0.7 threshold now and
    // then. So: wait until its last capacity line says available, create a room, and when no
    // agent comes within DISPATCH_WAIT_MS, leave it and try a fresh room (bounded attempts).
    let availableAt: number | undefined;
    let joinedAt = 0;
    for (let attempt = 1; attempt <= DISPATCH_ATTEMPTS; attempt++) {
      availableAt = await within(60_000, () => {
        const last = worker.logs().filter((l) => /full capacity|below capacity/.test(l.message))
          .pop();
        return !last || /below capacity/.test(last.message) ? performance.now() : undefined;
      });
      if (availableAt === undefined) break;
      if (attempt > 1) caller = new Caller(t0);
      const roomName = `py-${crypto.randomUUID().slice(0, 8)}`;
      const at = new AccessToken(KEY, secret, { identity: "caller" });
      at.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });
      await caller.join("ws://127.0.0.1:7880", await at.toJwt());
      joinedAt = performance.now() - t0;
      dispatchAttempts = attempt;
      if (await within(DISPATCH_WAIT_MS, () => caller.agentJoinedAt) !== undefined) break;
      await caller.hangUp();
    }
    await sleep(500); // a breath of silence before speaking, as a person would
    const helloEnd = await caller.say(1000);
    const reply = await within(20_000, () => {
      const s = caller.segmentAfter(helloEnd);
      return s?.end !== undefined && performance.now() - t0 - s.end > 600 ? s : undefined;
    });
    let byeToGoodbye: number | undefined;
    let goodbyeHeard: number | undefined;
    let silence: number | undefined;
    let stuck: StuckTask[] = [];
    let roomsLeft: string[] = [];
    const rooms = new RoomServiceClient("http://127.0.0.1:7880", KEY, secret);
    const jobPid = () =>
      worker.logs().find((l) => typeof l.job_id === "string" && l.pid !== worker.pid)?.pid as
        | number
        | undefined;
    if (opts.scenario === "bye") {
      const byeEnd = await caller.say(1000);
      const goodbye = await within(20_000, () => {
        const s = caller.segmentAfter(byeEnd);
        return s?.end !== undefined && performance.now() - t0 - s.end > 600 ? s : undefined;
      });
      if (goodbye) {
        byeToGoodbye = goodbye.start - byeEnd;
        goodbyeHeard = goodbye.samples / 48;
        const end = goodbye.end!;
        await within(silenceBoundMs, () => caller.disconnectedAt);
        silence = (caller.disconnectedAt ?? performance.now() - t0) - end;
      }
      if (caller.disconnectedAt === undefined) {
        roomsLeft = (await rooms.listRooms()).map((r) => r.name);
        const pid = jobPid();
        if (pid !== undefined) {
          stuck = (await worker.taskDump(pid)).flatMap(exitFlowTasks);
        }
      }
    }
    const hangupAt = performance.now();
    const saidBeforeHangup = gw.synthesized().length;
    const pid = jobPid();
    const callerDisconnected = caller.disconnectedAt !== undefined;
    await caller.hangUp();
    const jobEnded = await within(jobEndBoundMs, () => {
      if (pid === undefined) return undefined;
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        // A zombie has ended; its parent (the forkserver) just has not reaped it yet.
        return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z" ? performance.now() : undefined;
      } catch {
        return performance.now();
      }
    });
    // Let a goodbye that the hang-up triggers reach the gateway (bounded by the job's end).
    const said = gw.synthesized();
    const stop = await worker.stop("SIGTERM", sigtermGraceMs);
    const jobLines = worker.logs().filter((l) => l.pid === pid).filter((l) =>
      /tool|session|close|drain|exit|error|shutdown|disconnect|speech not done|goodbye/i.test(
        l.message,
      )
    ).map((l) => `${l.level ?? ""} ${l.message}`.slice(0, 200));
    return {
      scenario: opts.scenario,
      registeredMs: registered.t - c.startedAt,
      prewarmedMs: Math.max(...initialized) - c.startedAt,
      workerAvailable: availableAt !== undefined,
      dispatchAttempts,
      agentJoined: caller.agentJoinedAt !== undefined,
      joinToAgentMs: caller.agentJoinedAt !== undefined
        ? caller.agentJoinedAt - joinedAt
        : undefined,
      replyLatencyMs: reply ? reply.start - helloEnd : undefined,
      byeToGoodbyeAudioMs: byeToGoodbye,
      goodbyeHeardMs: goodbyeHeard,
      goodbyeSynthesizedMs: loudSpanMs(synthesizeVoice("Goodbye!", 48000), 48000),
      toolStarted: worker.logs().some((l) => l.message === "executing tool"),
      sessionClosed: worker.logs().some((l) => l.pid === pid && /session closed/.test(l.message)),
      callerDisconnected,
      disconnectReason: callerDisconnected && caller.disconnectReason !== undefined
        ? [
          "UNKNOWN_REASON",
          "CLIENT_INITIATED",
          "DUPLICATE_IDENTITY",
          "SERVER_SHUTDOWN",
          "PARTICIPANT_REMOVED",
          "ROOM_DELETED",
        ][caller.disconnectReason] ??
          String(caller.disconnectReason)
        : undefined,
      silenceAfterGoodbyeMs: silence,
      silenceBoundMs,
      roomsLeft,
      said,
      goodbyeAfterHangup: opts.scenario === "hangup"
        ? gw.log.some((e) =>
          e.kind === "tts_transcript" && e.text === "Goodbye!" && e.t >= hangupAt
        ) || said.slice(saidBeforeHangup).includes("Goodbye!")
        : undefined,
      jobEndedAfterHangup: jobEnded !== undefined,
      jobPid: pid,
      hangupToJobEndMs: jobEnded !== undefined ? jobEnded - hangupAt : undefined,
      jobEndBoundMs,
      stuck,
      sigterm: {
        code: stop.code,
        exitMs: stop.exitMs,
        forced: stop.forced,
        leftovers: stop.leftovers.length,
        graceMs: sigtermGraceMs,
      },
      jobLog: jobLines,
    };
  } finally {
    sampler.stop();
    await caller.hangUp().catch(() => {});
    await worker.kill();
    killPids(sampler.seen.keys());
    await gw.close();
    await server.kill();
  }
}

/**
 * Releases rtc-node's native side; call once, after the last room run of the process (a `Room`
 * created after it never connects).
 */
export function disposeRtc(): Promise<void> {
  return dispose();
}
