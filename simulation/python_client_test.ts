/**
 * The gateway against the second, independent client: livekit-agents' own LiveKit Inference
 * plugins (Python, the versions LiveKit's recipe installs), driven by
 * `bench/python_peer/gateway_probe.py` in the bench's Python environment. Together with the
 * agents-js tests beside this file, two clients from two codebases validate the same wire
 * protocols.
 *
 * Reported as ignored where that environment has not been built (it comes from PyPI once:
 * `deno run -A bench/python_peer/setup.ts`).
 *
 * @module
 */
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { existingPythonPeer } from "../bench/python_peer/setup.ts";
import { fromFileUrl } from "../testing/paths.ts";
import { startGateway, synthesizeVoice, ttsDurationMs } from "./mod.ts";
import { KEY, logged, SECRET } from "../testing/simulation_support.ts";

const peer = await existingPythonPeer();
const PROBE = fromFileUrl(new URL("../bench/python_peer/gateway_probe.py", import.meta.url));

Deno.test({
  name:
    "python clients: LLM, TTS, STT and the cloud turn detector of livekit-agents 1.8.9 work against the gateway",
  ignore: peer === undefined,
  fn: async () => {
    const gw = await startGateway({
      apiKey: KEY,
      apiSecret: SECRET,
      sttTranscripts: ["Hello from the tone"],
      eot: { probability: 0.77, threshold: 0.33 },
    });
    try {
      const child = new Deno.Command(peer!.python, {
        args: [PROBE],
        cwd: peer!.dir,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: Deno.env.get("HOME") ?? "/tmp",
          PYTHONDONTWRITEBYTECODE: "1",
          LIVEKIT_INFERENCE_URL: gw.url,
          LIVEKIT_API_KEY: KEY,
          LIVEKIT_API_SECRET: SECRET,
        },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const out = await child.output();
      clearTimeout(timer);
      const stderr = new TextDecoder().decode(out.stderr);
      assert(out.success, `the probe failed (${out.code}):\n${stderr.slice(-2000)}`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);

      // LLM: the reply the brain scripted, and the recipe's tool called on a goodbye.
      assertEquals(r.llm_text, "Hello! Nice to hear you. What would you like to talk about?");
      assertEquals(r.llm_tool_calls, ["end_session"]);
      const requests = logged(gw, "llm_request");
      assertEquals(requests.map((e) => e.model), ["openai/gpt-4.1-mini", "openai/gpt-4.1-mini"]);
      assertEquals(requests[1].tools, ["end_session"]);

      // TTS: the recipe's model and voice; all of the synthesized audio reached the client.
      const [session] = logged(gw, "tts_session");
      assertEquals([session.model, session.voice], [
        "cartesia/sonic-3",
        "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
      ]);
      assertEquals(r.tts.sample_rate, session.sampleRate);
      const sent = synthesizeVoice("Goodbye!", session.sampleRate).length;
      // The client's audio emitter ends each synthesis with at most one 10 ms frame of its own.
      assert(
        r.tts.samples >= sent && r.tts.samples - sent <= session.sampleRate / 100,
        `${r.tts.samples} samples received, ${sent} sent`,
      );
      assertEquals(ttsDurationMs("Goodbye!"), logged(gw, "tts_audio")[0].durationMs);

      // STT: one tone, one utterance, the scripted transcript.
      assertEquals(r.stt_finals, ["Hello from the tone"]);
      assertEquals(logged(gw, "stt_session")[0].model, "deepgram/nova-3-general");
      assertAlmostEquals(logged(gw, "stt_final")[0].startS, 0.3, 0.011);

      // EOT: the announced threshold adopted, the scripted prediction received, no fallback.
      assertEquals(r.eot.model, "turn-detector-v1");
      assertAlmostEquals(r.eot.threshold, 0.33, 1e-6);
      assertAlmostEquals(r.eot.probability, 0.77, 1e-6);
      assertEquals(logged(gw, "eot_prediction").length, 1);
      assertEquals(logged(gw, "auth_rejected"), []);
    } finally {
      await gw.close();
    }
  },
});
