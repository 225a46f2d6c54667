/**
 * Prewarm: load the Silero VAD (`core/silero_vad.ts`) once per process, before any job is assigned,
 * and keep it in `proc.userData` for every session the process runs.
 *
 * @module
 */
import type { JobProcess, VAD } from "@livekit/agents";
import { log } from "./core/log.ts";
import { installInputFrameSize } from "./core/audio_path.ts";
import { installLinearAudioByteStream } from "./core/audio_bytes.ts";
import { installPacedAudio } from "./core/paced_audio.ts";
import { SileroVAD } from "./core/silero_vad.ts";

/** What prewarm leaves in `proc.userData`. */
export interface PrewarmData extends Record<string, unknown> {
  /** The process's Silero VAD, shared by its sessions. */
  vad?: VAD;
  /** How many times prewarm ran in this process (1 in a healthy process). */
  prewarmCount?: number;
}

/** Loads the Silero VAD into `proc.userData.vad`; a second call in the same process reuses it. */
export async function prewarm(proc: JobProcess<PrewarmData>): Promise<void> {
  if (proc.userData.vad) return;
  // The audio path's process-wide settings, once per process like the VAD: linear audio
  // chunking (core/audio_bytes.ts), 20 ms input frames (core/audio_path.ts) and the agent's
  // track silent between utterances (core/paced_audio.ts).
  installLinearAudioByteStream();
  installInputFrameSize();
  installPacedAudio();
  const started = performance.now();
  // The plugin's Silero VAD, its audio moved linearly (core/silero_vad.ts).
  proc.userData.vad = await SileroVAD.load();
  proc.userData.prewarmCount = (proc.userData.prewarmCount ?? 0) + 1;
  log().debug({ ms: Math.round(performance.now() - started), pid: proc.pid }, "silero VAD loaded");
}

/** The VAD prewarm loaded for this process; throws if prewarm did not run. */
export function prewarmedVad(proc: JobProcess<PrewarmData>): VAD {
  const vad = proc.userData.vad;
  if (!vad) {
    throw new Error(
      "the Silero VAD was not prewarmed in this process; run prewarm() before the entrypoint",
    );
  }
  return vad;
}
