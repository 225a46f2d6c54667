/**
 * End-to-end: the real console (`main.ts console --offline ...`), the real
 * agent child and the loopback Inference stand-in, driven over pipes.
 */
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import { synthesizeVoice, TTS_MS_PER_CHAR } from "../simulation/mod.ts";
import { agentPid, ALSA_NULL_CONF, ConsoleProc, MAIN, settled } from "./testdata/harness.ts";
import { decodeWav, encodeWav, resampleLinear, rms } from "./wav.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

function after(out: string, first: string, second: string): boolean {
  const a = out.indexOf(first);
  return a >= 0 && out.indexOf(second, a + first.length) > a;
}

/** After a test, pass or fail: nothing of this console may survive it. */
async function finish(proc: ConsoleProc) {
  if ((await settled([proc.child.pid], 0)).length) await proc.kill();
  else {
    await proc.status;
    await proc.endInput();
  }
}

async function assertNothingLeft(proc: ConsoleProc) {
  assertGreater(proc.pids.size, 0, "the console never had an agent child");
  assertEquals(await settled(proc.leftovers()), [], "processes left behind");
}

Deno.test({
  name: "e2e: scripted text session over pipes ends by end_session with a goodbye, exit 0",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text"]);
    try {
      await proc.type("hello");
      await proc.type("goodbye");
      await proc.endInput();
      const st = await proc.exit(60_000);
      const out = proc.out;
      assertEquals(st.code, 0, `stdout:\n${out}\nstderr:\n${proc.err}`);
      assertMatch(out, /SIMULATION/);
      assertMatch(out, /turn detection: the simulation's end-of-turn model/);
      assertMatch(out, /^you: hello$/m);
      assertMatch(out, /^agent: Hello! Nice to hear you\./m);
      assertMatch(out, /^you: goodbye$/m);
      assertMatch(out, /^state: thinking$/m);
      assertMatch(out, /^state: speaking$/m);
      assert(after(out, "you: goodbye", "tool: end_session()"), out);
      assert(after(out, "tool: end_session()", "agent: Goodbye!"), out);
      assertMatch(out, /^session ended: the agent ended the session \(end_session\)$/m);
      assertMatch(out, /^summary: 2 user turns · 3 agent replies · /m);
      // Per-turn latency as LiveKit's consoles show it; a typed turn's e2e is measured here.
      assertMatch(
        out,
        /^agent: Hello! .*\nlatency: llm_ttft [\d.]+ms · tts_ttfb [\d.]+ms · e2e \d+ms/m,
      );
      assertMatch(
        out,
        /^latency: median of 3 replies: llm_ttft [\d.]+ms · tts_ttfb [\d.]+ms · e2e /m,
      );
      // Typed input: the simulated STT's script is not shown (nothing is heard).
      assertEquals(out.includes("speech recognizer"), false);
      assertEquals(proc.err.includes("error"), false, proc.err);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});

Deno.test({
  name:
    "e2e: --input-wav replays 3 utterances (4 s, 7 s apart) as 3 user turns; --output-wav and --record keep every word",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    // 22.05 kHz stereo: exercises down-mixing and resampling to 48 kHz.
    const rate = 22050;
    const gap = (s: number) => new Int16Array(Math.round(rate * s));
    // The stand-in STT hears each burst as its next scripted line: "Hello there!",
    // "What can you do?", "Okay, thanks. Goodbye!". The first reply is still playing
    // 4 s after the first utterance (where a live microphone loses the second one):
    // the replay holds each utterance until the agent has answered the one before.
    const parts = [
      gap(0.5),
      synthesizeVoice("Hello there", rate),
      gap(4),
      synthesizeVoice("What can you do", rate),
      gap(7),
      synthesizeVoice("Okay thanks goodbye", rate),
      gap(0.5),
    ];
    const mono = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((off, p) => (mono.set(p, off), off + p.length), 0);
    const stereo = new Int16Array(mono.length * 2);
    mono.forEach((v, i) => (stereo[2 * i] = v, stereo[2 * i + 1] = v));
    const wav = encodeWav(stereo, rate, 2);
    const input = `${dir}/in.wav`;
    const output = `${dir}/out.wav`;
    await Deno.writeFile(input, wav);
    const proc = new ConsoleProc(
      [
        MAIN,
        "console",
        "--offline",
        "--input-wav",
        input,
        "--output-wav",
        output,
        "--record",
        `${dir}/rec`,
      ],
      { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" },
    );
    try {
      const st = await proc.exit(90_000);
      const out = proc.out;
      assertEquals(st.code, 0, `stdout:\n${out}\nstderr:\n${proc.err}`);
      assertEquals(out.match(/^you: .*$/gm), [
        "you: Hello there!",
        "you: What can you do?",
        "you: Okay, thanks. Goodbye!",
      ]);
      assertMatch(out, /^summary: 3 user turns · /m);
      assertMatch(
        out,
        /^info: the simulated speech recognizer does not listen to words: it hears each thing said as the next line of "Hello there!" → /m,
      );
      assert(after(out, "tool: end_session()", "agent: Goodbye!"), out);
      assertEquals(out.includes("[interrupted]"), false, "the test's gaps are too short:\n" + out);

      const rec = decodeWav(await Deno.readFile(output), output);
      assertEquals(rec.sampleRate, 48000);
      assertEquals(rec.sourceChannels, 1);
      assertEquals(rec.sourceBits, 16);
      const seconds = rec.samples.length / 48000;
      const synthesized = Number(out.match(/the stand-in TTS synthesized ([\d.]+) s/)?.[1]);
      assert(synthesized > 0, out);
      // What was played is what was synthesized (resampler edges aside).
      assert(
        Math.abs(seconds - synthesized) < 0.1,
        `recorded ${seconds} s, synthesized ${synthesized} s`,
      );
      assertMatch(out, new RegExp(`^recorded: .*out\\.wav \\(${seconds.toFixed(2)} s\\)$`, "m"));
      // The goodbye is the last thing said: "Goodbye!" = 8 chars of synthetic voice.
      const goodbye = rec.samples.subarray(
        rec.samples.length - Math.round(48 * 8 * TTS_MS_PER_CHAR),
      );
      assertGreater(rms(goodbye), 0.02, "the goodbye at the end of the recording is silent");
      assertGreater(rms(rec.samples), 0.02);

      // --record: both sides on one timeline, same length; the agent side holds what was
      // played, the user side the three utterances as sent.
      assertMatch(
        out,
        /^recorded both sides: .*rec\/user\.wav, .*rec\/agent\.wav \(one timeline\)$/m,
      );
      const user = decodeWav(await Deno.readFile(`${dir}/rec/user.wav`)).samples;
      const agent = decodeWav(await Deno.readFile(`${dir}/rec/agent.wav`)).samples;
      assertEquals(user.length, agent.length);
      const voiced = (a: Int16Array) => a.reduce((n, v) => n + (Math.abs(v) > 300 ? 1 : 0), 0);
      const spoken = voiced(resampleLinear(mono, rate, 48000));
      assert(Math.abs(voiced(user) - spoken) < spoken * 0.05, `${voiced(user)} vs ${spoken}`);
      assert(Math.abs(voiced(agent) - voiced(rec.samples)) < voiced(rec.samples) * 0.05);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: Ctrl+C (SIGINT to the console) mid-conversation: the goodbye plays, all exit",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    const output = `${dir}/out.wav`;
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text", "--output-wav", output]);
    try {
      await proc.type("hello");
      await proc.waitFor(/^agent: Hello!/m, 30_000);
      const before = decodeWav(await Deno.readFile(output)).samples.length; // header not final yet
      proc.signal("SIGINT");
      const st = await proc.exit(30_000);
      const out = proc.out;
      assertEquals(st.code, 0, `stdout:\n${out}\nstderr:\n${proc.err}`);
      assert(after(out, "ending the session; the agent says goodbye", "agent: Goodbye!"), out);
      assertMatch(out, /^session ended: you pressed Ctrl\+C; the agent said goodbye$/m);
      const rec = decodeWav(await Deno.readFile(output));
      // The recording grew by the goodbye after the interrupt, and it is not silence.
      assertGreater(rec.samples.length, before);
      const goodbye = rec.samples.subarray(
        rec.samples.length - Math.round(48 * 8 * TTS_MS_PER_CHAR),
      );
      assertGreater(rms(goodbye), 0.02);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: a second Ctrl+C quits at once (exit 130) and stops the agent",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text"]);
    try {
      await proc.type("hello");
      await proc.waitFor(/^state: speaking$/m, 30_000);
      proc.signal("SIGINT");
      // The second Ctrl+C once the first was handled (two presses, not one coalesced signal).
      await proc.waitFor(/ending the session; the agent says goodbye/, 10_000);
      proc.signal("SIGINT");
      const t0 = performance.now();
      const st = await proc.exit(10_000);
      assertEquals(st.code, 130, proc.out + proc.err);
      assert(performance.now() - t0 < 3000, "the second Ctrl+C did not quit at once");
      assertMatch(proc.out + proc.err, /quit at once; the agent was stopped/);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});

Deno.test({
  name: "e2e: the agent dying mid-session is reported with its last log lines, exit 1",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text"]);
    try {
      await proc.type("hello");
      await proc.waitFor(/^state: thinking$/m, 30_000);
      const pid = agentPid(proc);
      if (!pid) throw new Error("agent PID not found");
      Deno.kill(pid, "SIGKILL");
      const st = await proc.exit(15_000);
      assertEquals(st.code, 1, proc.out + proc.err);
      assertMatch(
        proc.err,
        /^error: the agent process died \(signal SIGKILL\); its last log lines:$/m,
      );
      assertMatch(proc.err, /│ \[\d\d:\d\d:\d\d\.\d+\] /);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});

Deno.test({
  name: "e2e: no audio device: voice mode says so in one line and continues in text mode",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline"], {
      PORTAUDIO_LIB: "/nonexistent/libportaudio.so",
    });
    try {
      await proc.type("hello");
      await proc.type("bye");
      const st = await proc.exit(60_000);
      assertEquals(st.code, 0, proc.out + proc.err);
      const notes = proc.out.split("\n").filter((l) => /audio device/.test(l));
      assertEquals(notes, [
        "warning: no audio device found (PortAudio is not installed (apt install libportaudio2)); continuing in text mode",
      ]);
      // The banner names the mode the console runs in, not the one asked for.
      assertMatch(proc.out, /^exit-message console · text$/m);
      assertEquals(/console · voice/.test(proc.out), false, proc.out);
      assertMatch(proc.out, /^agent: Goodbye!$/m);
      // Nothing plays the replies, so nothing paces them; the latency line times the text the
      // user read, which cannot come before the LLM's first token.
      assertMatch(proc.out, /s of agent speech synthesized, not played \(text mode\)/);
      const lines = [...proc.out.matchAll(/llm_ttft (\d+(?:\.\d)?)ms.* e2e (\d+(?:\.\d)?)ms/g)];
      assert(lines.length >= 1, proc.out);
      for (const [line, ttft, e2e] of lines) assert(Number(e2e) >= Number(ttft), line);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});

const haveAlsaConf = (() => {
  try {
    Deno.statSync("/usr/share/alsa/alsa.conf");
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "e2e: with a sound card (ALSA null PCM) voice mode opens speaker and mic through PortAudio",
  ignore: !haveAlsaConf,
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline"], {
      ALSA_CONFIG_PATH: ALSA_NULL_CONF,
    });
    try {
      await proc.waitFor(/agent connected|error/, 30_000);
      if (/PortAudio is not installed/.test(proc.out)) {
        await proc.kill();
        console.log("skipped: libportaudio2 is not installed");
        return;
      }
      await proc.type("hello");
      await proc.type("goodbye");
      const st = await proc.exit(60_000);
      assertEquals(st.code, 0, proc.out + proc.err);
      assertMatch(proc.out, /console · voice$/m);
      assertEquals(/no audio device/.test(proc.out), false, proc.out);
      assertMatch(proc.out, /^agent: Goodbye!$/m);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});
