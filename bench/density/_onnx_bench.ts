import process from "node:process";
import { InferenceSession, Tensor } from "npm:onnxruntime-node@1.24.3";
const path = new URL("../../node_modules/.deno/@livekit+agents-plugin-silero@1.9.0/node_modules/@livekit/agents-plugin-silero/src/silero_vad.onnx", import.meta.url).pathname;
for (const threads of [1]) {
  const s = await InferenceSession.create(path, { interOpNumThreads: 1, intraOpNumThreads: threads, executionMode: "sequential" });
  const input = new Float32Array(576); const state = new Float32Array(256); const sr = BigInt64Array.from([16000n]);
  for (let i = 0; i < 576; i++) input[i] = Math.sin(i / 7) * 0.3;
  const run = () => s.run({ input: new Tensor("float32", input, [1, 576]), state: new Tensor("float32", state, [2, 1, 128]), sr: new Tensor("int64", sr) });
  for (let i = 0; i < 50; i++) await run();
  const u0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < 1000; i++) await run();
  const u = process.cpuUsage(u0);
  console.log(`threads ${threads}: ${(performance.now() - t0).toFixed(0)} ms wall, ${((u.user + u.system) / 1000).toFixed(0)} ms cpu per 1000 runs`);
}
Deno.exit(0);
