/**
 * The voice path at the caller in a real room: the real livekit-server, a real rtc-node caller
 * speaking the simulation's synthetic voice, one worker per runtime and mode (`main.ts start`,
 * `dev` for the cloud model; the same under the Node peer). Runs inside the test sandbox
 * (`bench/voice.ts` starts it there).
 *
 * Parts: the caller's end of speech and first audio heard; the agent's own `turn:` line for the
 * VAD end, STT final and turn decision (`core/turn_parts.ts`); the simulation's log for the LLM
 * first token and TTS first audio. Every clock here is the same machine's epoch milliseconds.
 *
 * `deno run -A bench/voice_room.ts --turns N [--modes vad,stt,default,no_model] [--node JSON]
 * --out FILE` (JSON: `{cmd, prefix, cwd}` of the Node peer, prepared outside the sandbox).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { HELLO, RealRoom, realRoomProblem } from "../testing/real_room/real_room.ts";
import { runInSandbox } from "../testing/real_room/sandbox.ts";
import { fromFileUrl } from "../testing/paths.ts";
import { until } from "../testing/wait.ts";
import type { WorkerProcess } from "../testing/real_room/worker_process.ts";
import { loadavg, sleep } from "./proc.ts";
import { modelTimes, turnDetectionOf, voiceGateway } from "./voice_console.ts";
import {
  parseTurnLines,
  VOICE_MODES,
  type VoiceMode,
  type VoiceTurn,
  withShare,
} from "./voice_parts.ts";

/** How to start the Node peer's command line. */
export interface PeerSpawn {
  cmd: string;
  prefix: string[];
  cwd: string;
}

async function killInferenceProcess(worker: WorkerProcess): Promise<void> {
  const pids = await worker.inferenceProcesses(60_000);
  for (const pid of pids) Deno.kill(pid, "SIGKILL");
}

/** One worker, one call of `turns` hello turns; the parts of each. */
async function roomSession(
  room: RealRoom,
  runtime: "deno" | "node",
  mode: VoiceMode,
  turns: number,
  peer?: PeerSpawn,
): Promise<VoiceTurn[]> {
  // Without a model here means the worker's local model gone (its inference process killed).
  const command = mode === "default" ? ["dev"] : ["start"];
  const worker = await room.startWorker(command, {
    TURN_DETECTION: turnDetectionOf(mode),
    LOG_LEVEL: "info",
  }, { spawn: runtime === "node" ? peer : undefined });
  try {
    if (mode === "no_model") await killInferenceProcess(worker);
    const caller = await room.call(room.freshRoom(`voice-${runtime}-${mode}`), 90_000);
    const out: VoiceTurn[] = [];
    for (let i = 0; i < turns; i++) {
      const said = await caller.say(HELLO);
      const heard = await caller.waitFor("heard_start", 30_000, (e) => e.at >= said.endAt);
      await caller.waitFor("heard", 30_000, (e) => e.startAt >= said.endAt, "the reply to end");
      // One `turn:` line per answered turn, in order; a turn without one keeps its outside parts.
      const line = await until(() => parseTurnLines(worker.lines)[i], 15_000, "a turn line")
        .catch(() => ({} as Record<string, unknown>));
      const at = (field: string) => {
        const v = line[field];
        return typeof v === "number" && typeof line.end_of_speech_at === "number"
          ? line.end_of_speech_at + v - said.endAt
          : undefined;
      };
      const models = modelTimes(room.gateway, said.startAt, heard.at);
      const p = typeof line.eot_probability === "number" ? line.eot_probability : undefined;
      const threshold = typeof line.eot_threshold === "number" ? line.eot_threshold : 0;
      out.push(withShare({
        runtime,
        where: "room",
        mode,
        decidedBy: line.decided_by === undefined ? undefined : String(line.decided_by),
        eotProbability: p,
        vadEndMs: at("vad_end_of_speech_ms"),
        sttFinalMs: at("stt_final_ms"),
        turnDecisionMs: at("turn_decision_ms"),
        llmFirstTokenMs: models.llmFirstTokenAt! - said.endAt,
        ttsFirstAudioMs: models.ttsFirstAudioAt! - said.endAt,
        playoutMs: heard.at - said.endAt,
        load: loadavg()[0],
      }, line.decided_by === "local_model" && p !== undefined && p < threshold));
      await sleep(800);
    }
    await caller.hangup();
    return out;
  } finally {
    await worker.stop();
  }
}

/** Every mode, Deno and Node interleaved, in one room fixture. */
export async function runVoiceRoom(
  turns: number,
  modes: readonly VoiceMode[],
  peer?: PeerSpawn,
): Promise<VoiceTurn[]> {
  const problem = realRoomProblem();
  if (problem) throw new Error(`the room voice benchmark cannot run: ${problem}`);
  await using room = await RealRoom.start({ gateway: voiceGateway("vad") });
  const out: VoiceTurn[] = [];
  for (const mode of modes) {
    const order = out.length % 2 === 0 ? ["deno", "node"] as const : ["node", "deno"] as const;
    for (const runtime of order) {
      if (runtime === "node" && !peer) continue;
      console.error(`voice room: ${runtime}, ${mode}...`);
      out.push(...await roomSession(room, runtime, mode, turns, peer));
    }
  }
  return out;
}

/** Runs this module in the test sandbox and returns its turns. */
export async function voiceRoomInSandbox(
  turns: number,
  modes: readonly VoiceMode[],
  peer?: PeerSpawn,
): Promise<VoiceTurn[]> {
  const out = await Deno.makeTempFile({ prefix: "voice-room-", suffix: ".json" });
  try {
    const code = await runInSandbox([
      Deno.execPath(),
      "run",
      "-A",
      fromFileUrl(import.meta.url),
      "--turns",
      String(turns),
      "--modes",
      modes.join(","),
      ...(peer ? ["--node", JSON.stringify(peer)] : []),
      "--out",
      out,
    ], { required: true });
    if (code !== 0) throw new Error(`the room voice benchmark exited ${code}`);
    return JSON.parse(await Deno.readTextFile(out));
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      turns: { type: "string", default: "3" },
      modes: { type: "string", default: VOICE_MODES.join(",") },
      node: { type: "string" },
      out: { type: "string" },
    },
  });
  const modes = values.modes.split(",").filter((m) => VOICE_MODES.includes(m as VoiceMode));
  const turns = await runVoiceRoom(
    Number(values.turns),
    modes as VoiceMode[],
    values.node ? JSON.parse(values.node) : undefined,
  );
  const json = JSON.stringify(turns, null, 2) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, json);
  else console.log(json);
  Deno.exit(0);
}
