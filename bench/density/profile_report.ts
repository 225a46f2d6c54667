/**
 * Sums a V8 `.cpuprofile` by component: each sample's time goes to the innermost frame that
 * belongs to a known component (onnxruntime, rtc-node FFI, protobuf, the STT/TTS sockets, the
 * VAD, agents-js's audio pipeline, Deno's streams, this project's own code...), with GC, idle and
 * native time apart. `deno run -A bench/density/profile_report.ts FILE.cpuprofile [--top 30]`
 *
 * @module
 */

/** A node of a V8 CPU profile. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** A V8 CPU profile (`Profiler.stop`). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Components, first match wins on the innermost frame that matches any. */
const COMPONENTS: [string, (url: string, fn: string) => boolean][] = [
  ["(garbage collector)", (_u, f) => f === "(garbage collector)"],
  ["(idle)", (_u, f) => f === "(idle)"],
  ["(program)", (_u, f) => f === "(program)"],
  [
    "silero VAD (onnxruntime)",
    (u) =>
      u.includes("onnxruntime") || u.includes("agents-plugin-silero") ||
      u.endsWith("core/silero_vad.ts"),
  ],
  ["protobuf (rtc-node FFI messages)", (u) => u.includes("@bufbuild")],
  ["rtc-node audio resampler", (u) => u.includes("audio_resampler")],
  ["rtc-node audio source (captureFrame)", (u) => u.includes("audio_source")],
  ["rtc-node audio stream (frames in)", (u) => u.includes("audio_stream")],
  ["rtc-node FFI client / room events", (u) => u.includes("@livekit+rtc-node")],
  ["agents-js STT (audio to base64 JSON)", (u) => /agents\/dist\/(inference\/stt|stt\/)/.test(u)],
  ["agents-js TTS (audio from base64 JSON)", (u) => /agents\/dist\/(inference\/tts|tts\/)/.test(u)],
  ["agents-js LLM", (u) => /agents\/dist\/(inference\/llm|llm\/)/.test(u) || u.includes("openai")],
  [
    "agents-js VAD / audio recognition",
    (u) => /agents\/dist\/(vad|voice\/audio_recognition)/.test(u),
  ],
  ["agents-js transcription sync", (u) => /agents\/dist\/voice\/transcription/.test(u)],
  ["agents-js room IO", (u) => /agents\/dist\/voice\/room_io/.test(u)],
  ["agents-js loop monitor / telemetry", (u) => /agents\/dist\/telemetry|opentelemetry/.test(u)],
  ["agents-js voice pipeline (other)", (u) => /agents\/dist\/voice/.test(u)],
  ["agents-js (other)", (u) => u.includes("@livekit+agents@")],
  ["websocket (ws)", (u) => u.includes("/ws@") || u.includes("node_modules/ws/")],
  ["logging (pino)", (u) => u.includes("pino")],
  ["this project", (u) => u.startsWith("file://") && !u.includes("node_modules")],
  ["Deno web streams", (u) => u.includes("ext:deno_web/06_streams")],
  ["Deno node compat", (u) => u.startsWith("ext:deno_node") || u.startsWith("node:")],
  ["Deno runtime (other ext:)", (u) => u.startsWith("ext:")],
  ["other npm", (u) => u.includes("node_modules")],
];

/** Milliseconds of self time per component, and per function inside each. */
export function byComponent(p: CpuProfile): Map<string, { ms: number; fns: Map<string, number> }> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map<number, [string, string]>();
  const classify = (id: number): [string, string] => {
    const hit = cache.get(id);
    if (hit) return hit;
    let cur: number | undefined = id;
    let out: [string, string] = ["(unattributed)", "?"];
    while (cur !== undefined) {
      const f = byId.get(cur)!.callFrame;
      const c = COMPONENTS.find(([, m]) => m(f.url, f.functionName));
      if (c) {
        const short = f.url.replace(/^.*node_modules\/\.deno\/[^/]+\/node_modules\//, "");
        out = [c[0], `${f.functionName || "(anonymous)"} ${short}:${f.lineNumber + 1}`];
        break;
      }
      cur = parent.get(cur);
    }
    cache.set(id, out);
    return out;
  };
  const out = new Map<string, { ms: number; fns: Map<string, number> }>();
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const [comp, fn] = classify(p.samples[i]);
    const e = out.get(comp) ?? { ms: 0, fns: new Map() };
    e.ms += ms;
    e.fns.set(fn, (e.fns.get(fn) ?? 0) + ms);
    out.set(comp, e);
  }
  return out;
}

if (import.meta.main) {
  const files = Deno.args.filter((a) => a.endsWith(".cpuprofile"));
  const top = Number(Deno.args[Deno.args.indexOf("--top") + 1]) || 4;
  const total = new Map<string, { ms: number; fns: Map<string, number> }>();
  let wall = 0;
  for (const f of files) {
    const p: CpuProfile = JSON.parse(await Deno.readTextFile(f));
    wall += (p.endTime - p.startTime) / 1e6;
    for (const [k, v] of byComponent(p)) {
      const e = total.get(k) ?? { ms: 0, fns: new Map() };
      e.ms += v.ms;
      for (const [fn, ms] of v.fns) e.fns.set(fn, (e.fns.get(fn) ?? 0) + ms);
      total.set(k, e);
    }
  }
  const busy = [...total].filter(([k]) => k !== "(idle)").reduce((s, [, v]) => s + v.ms, 0);
  console.log(
    `${files.length} profile(s), ${wall.toFixed(1)} s of wall time, JS thread busy ${
      (busy / 1000).toFixed(2)
    } s (${(busy / 1000 / wall).toFixed(3)} cores)`,
  );
  for (const [k, v] of [...total].sort((a, b) => b[1].ms - a[1].ms)) {
    if (k === "(idle)") continue;
    console.log(
      `${(v.ms / 1000 / wall).toFixed(4).padStart(7)} cores  ${
        (100 * v.ms / busy).toFixed(1).padStart(5)
      } %  ${k}`,
    );
    for (const [fn, ms] of [...v.fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`            ${(100 * ms / busy).toFixed(1).padStart(5)} %    ${fn}`);
    }
  }
}
