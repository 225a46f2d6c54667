/**
 * The recipe's prewarm alone: `silero.VAD.load()` timed in a fresh interpreter of the peer's
 * environment (after `livekit.plugins.silero` is imported, as it is when the prewarm runs), so
 * it compares with the Deno figure that `prewarm.ts` logs around its own `VAD.load()`.
 *
 * @module
 */
import type { PythonPeer } from "./setup.ts";

/** One fresh interpreter: import time of the silero plugin, then `VAD.load()`. */
export interface VadLoad {
  importMs: number;
  loadMs: number;
}

const SCRIPT = [
  "import json, time",
  "t0 = time.perf_counter()",
  "from livekit.plugins import silero",
  "t1 = time.perf_counter()",
  "silero.VAD.load()",
  "t2 = time.perf_counter()",
  'print(json.dumps({"importMs": (t1 - t0) * 1000, "loadMs": (t2 - t1) * 1000}))',
].join("\n");

/** Runs {@link SCRIPT} once in the peer's environment (bounded by `timeoutMs`). */
export async function pythonVadLoad(peer: PythonPeer, timeoutMs = 60_000): Promise<VadLoad> {
  const child = new Deno.Command(peer.python, {
    args: ["-c", SCRIPT],
    cwd: peer.dir,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      PYTHONDONTWRITEBYTECODE: "1",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success) {
      throw new Error(
        `silero load failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(-500)}`,
      );
    }
    return JSON.parse(text) as VadLoad;
  } finally {
    clearTimeout(timer);
  }
}
