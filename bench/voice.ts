/**
 * `deno task bench --only voice`: the voice path (end of the user's speech to the first agent
 * audio heard), split into its parts, per turn-detection mode, Deno against the Node peer,
 * through the console protocol (`voice_console.ts`) and at the caller in a real room
 * (`voice_room.ts`, inside the test sandbox). Prints the tables, writes
 * `bench/results/voice_latest.json` and the `bench:voice` block of `docs/benchmarks.md`.
 *
 * Flags: `--voice-runs N` (console sessions per runtime and mode, default 2), `--voice-turns N`
 * (turns per session, default 3), `--voice-where console|room`, `--no-docs`.
 *
 * @module
 */
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { BENCHMARKS_DOC, writeDocBlock } from "./doc_blocks.ts";
import { type NodePeer, prepareNodePeer } from "./node_peer/setup.ts";
import { loadavg } from "./proc.ts";
import { denoRuntime, nodeRuntime } from "./runtimes.ts";
import { voiceConsoleSession } from "./voice_console.ts";
import {
  ENDPOINTING,
  VOICE_LATENCY,
  VOICE_MODES,
  voiceTable,
  type VoiceTurn,
} from "./voice_parts.ts";
import { voiceRoomInSandbox } from "./voice_room.ts";
import { writeLatestResult } from "./results.ts";

/** The whole voice run, as written to JSON. */
export interface VoiceResult {
  date: string;
  command: string;
  machine: { cpu: string; cores: number };
  runtimes: { deno: string; node: string };
  latency: typeof VOICE_LATENCY;
  endpointing: typeof ENDPOINTING;
  loadavg: { start: number[]; end: number[] };
  turns: VoiceTurn[];
  /** Why the room figures are missing, when they are. */
  roomError?: string;
}

/** What the figures mean, under their tables in the benchmarks page. */
export const VOICE_NOTES =
  `How it is measured: each turn the user says "Hello there!" in the simulation's synthetic voice
(through the console protocol: the project's broker as the microphone, 30 ms frames in real time;
in the room: a real rtc-node caller), and every part is in ms after the end of that speech as the
sender knows it. VAD end, STT final and turn decision are the agent's own stamps (console: its
events on the wire; room: its \`turn:\` log line); LLM first token and TTS first audio are when the
simulation sent them (fixed ${VOICE_LATENCY.llmFirstTokenMs} and ${VOICE_LATENCY.ttsFirstAudioMs} ms after the request); "first audio heard" is the first
agent audio at the broker or the caller. The simulated STT ends an utterance after
${VOICE_LATENCY.sttEndSilenceMs} ms of silence; its end-of-turn model answers 0.95 in ${VOICE_LATENCY.eotMs} ms. \`no_model\` (room only): the
worker's inference process killed, so every turn ends by the guard's fallback (the console agent
loads the local model as soon as the cloud fails, so there a model-less turn is a transient).

Ideal = max(decision floor, STT ${VOICE_LATENCY.sttEndSilenceMs} + LLM ${VOICE_LATENCY.llmFirstTokenMs} + TTS ${VOICE_LATENCY.ttsFirstAudioMs} ms): with preemptive generation agents-js
starts the reply at the final transcript and plays it once the turn is decided; in \`stt\` mode it
starts no preemptive reply from a final transcript (only with VAD-based detection), so there the
ideal is decision floor + LLM + TTS. Decision floors
from agents-js 1.9.0's defaults: vad max(VAD silence ${ENDPOINTING.vadMinSilenceMs}, min delay ${ENDPOINTING.minDelayMs}, STT); stt STT + ${ENDPOINTING.minDelayMs};
default max(STT, ${ENDPOINTING.modelMinDelayMs}, or ${ENDPOINTING.modelMaxDelayMs} when the model says not finished). Framework share = first audio
heard − ideal: what agents-js, the plugins, the runtime and the transport add; "in" is the part
before the final transcript reached the agent (audio to the STT, the plugin's 50 ms chunks, the
transcript back), "out" the part after the simulation sent the first audio (to the agent, then to
the broker or through the LiveKit server to the caller).

In the room's \`no_model\` the killed inference process swallows the job's request (no error comes
back), so agents-js gives the prediction up after its own 1 s bound, counted from the final
transcript: the decision comes about 1 s after it (the detector's own time), not after the 2.5 s
maximum; it is counted in the framework share here.`;

/** The voice block as printed and kept in the docs: header, tables, notes. */
export function renderVoice(r: VoiceResult): string {
  const head = [
    `Date: ${
      r.date.slice(0, 16).replace("T", " ")
    } UTC · ${r.machine.cpu}, ${r.machine.cores} cores · ${r.runtimes.deno} vs ${r.runtimes.node} · load average at start ${
      r.loadavg.start.join(" ")
    }, at end ${r.loadavg.end.join(" ")}`,
    `Command: \`${r.command}\` · medians in ms after the end of the user's speech (framework share: median (min–max))`,
  ].join("  \n");
  const missing = r.roomError ? `\n\nThe room figures are missing: ${r.roomError}` : "";
  return `${head}\n\n${voiceTable(r.turns)}${missing}\n\n${VOICE_NOTES}`;
}

/** Runs the voice benchmark with `args` (see the module doc); returns the result. */
export async function runVoiceBench(args: string[], peer?: NodePeer): Promise<VoiceResult> {
  const { values } = parseArgs({
    args,
    strict: false,
    options: {
      "voice-runs": { type: "string", default: "2" },
      "voice-turns": { type: "string", default: "3" },
      "voice-where": { type: "string" },
      "no-docs": { type: "boolean", default: false },
    },
  });
  const runs = Math.max(1, Number(values["voice-runs"]));
  const turns = Math.max(1, Number(values["voice-turns"]));
  const where = values["voice-where"] as string | undefined;
  const start = loadavg();
  peer ??= await prepareNodePeer((l) => console.error(l));
  const cwd = await Deno.makeTempDir({ prefix: "exit-message-voice-" });
  const rts = { deno: denoRuntime(cwd), node: nodeRuntime(peer) };
  const all: VoiceTurn[] = [];
  let roomError: string | undefined;
  try {
    if (!where || where === "console") {
      // Not `no_model`: the console agent loads the local model as soon as the cloud fails, so a
      // turn without a model is a transient there; the room measures it (inference process gone).
      for (const mode of VOICE_MODES.filter((m) => m !== "no_model")) {
        for (let i = 0; i < runs; i++) {
          const order = i % 2 === 0 ? ["deno", "node"] as const : ["node", "deno"] as const;
          for (const name of order) {
            const got = await voiceConsoleSession(rts[name], mode, turns).catch((error) => {
              // One failed session (its reason on stderr) leaves the others' figures standing.
              console.error(`  voice console ${mode} ${name}: failed: ${error}`);
              return [] as VoiceTurn[];
            });
            all.push(...got);
            console.error(
              `  voice console ${mode} ${name} ${i + 1}/${runs}: heard after ${
                got.map((t) => Math.round(t.playoutMs)).join(", ")
              } ms (load ${loadavg()[0]})`,
            );
          }
        }
      }
    }
    if (!where || where === "room") {
      try {
        all.push(
          ...await voiceRoomInSandbox(turns, VOICE_MODES, {
            cmd: rts.node.cmd,
            prefix: rts.node.prefix,
            cwd: rts.node.cwd,
          }),
        );
      } catch (error) {
        // The console figures stand on their own; say why the room's are missing.
        roomError = error instanceof Error ? error.message : String(error);
        console.error(`voice room: ${roomError}`);
      }
    }
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
  const result: VoiceResult = {
    date: new Date().toISOString(),
    command: `deno task bench --only voice ${
      args.filter((a) => a !== "--only" && a !== "voice").join(" ")
    }`
      .trim(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: availableParallelism() },
    runtimes: { deno: rts.deno.version, node: rts.node.version },
    latency: VOICE_LATENCY,
    endpointing: ENDPOINTING,
    loadavg: { start, end: loadavg() },
    turns: all,
    roomError,
  };
  await writeLatestResult("voice_latest.json", result);
  await reportVoice(result, !values["no-docs"]);
  return result;
}

/** Prints a voice result and (with `docs`) replaces its block in the benchmarks page. */
export async function reportVoice(result: VoiceResult, docs: boolean): Promise<void> {
  const text = renderVoice(result);
  console.log(`\n${text}\n`);
  if (docs) {
    await writeDocBlock(BENCHMARKS_DOC, text, "voice");
    console.log(`${BENCHMARKS_DOC}: the voice path block was updated`);
  }
}

if (import.meta.main) {
  await runVoiceBench(Deno.args);
  Deno.exit(0);
}
