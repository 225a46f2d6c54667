/**
 * End-to-end: `--input-wav` as a reproducible script, and how sessions fed
 * from a file or a pipe end. The real console, the real agent child and the
 * loopback Inference simulation, over pipes.
 */
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import { synthesizeVoice } from "../simulation/mod.ts";
import { ConsoleProc, MAIN, settled } from "./testdata/harness.ts";
import { encodeWav } from "./wav.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const NO_AUDIO = { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" };

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

/** Mono 16 kHz WAV: numbers are seconds of silence, strings synthetic speech. */
function wavOf(parts: (number | string)[]): Uint8Array {
  const rate = 16000;
  const chunks = parts.map((p) =>
    typeof p === "number" ? new Int16Array(Math.round(rate * p)) : synthesizeVoice(p, rate)
  );
  const mono = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((off, c) => (mono.set(c, off), off + c.length), 0);
  return encodeWav(mono, rate);
}

async function runToEnd(args: string[], ms = 90_000) {
  const proc = new ConsoleProc([MAIN, "console", "--offline", ...args], NO_AUDIO);
  try {
    const st = await proc.exit(ms);
    assertEquals(st.code, 0, `stdout:\n${proc.out}\nstderr:\n${proc.err}`);
    await assertNothingLeft(proc);
    return proc.out;
  } finally {
    await finish(proc);
  }
}

Deno.test({
  name:
    "e2e: a WAV without a goodbye: once it has ended and its last turn is answered, the session ends like end of input, exit 0; its --record replays as the same turns",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/in.wav`, wavOf([0.5, "Hello there", 2, "What can you do", 0.3]));
      const out = await runToEnd(["--input-wav", `${dir}/in.wav`, "--record", `${dir}/rec`]);
      const turns = out.match(/^you: .*$/gm);
      assertEquals(turns, ["you: Hello there!", "you: What can you do?"]);
      // A spoken turn's latency line shows where the wait went and what decided the turn.
      assertMatch(out, /^latency: .*stt \d+ms.* · turn \d+ms (\(slow\) )?by .* · e2e \d+ms/m);
      const answered = out.indexOf("agent: Good question.");
      const ended = out.indexOf(`info: ${dir}/in.wav ended and the agent answered its last turn`);
      assert(answered > 0 && ended > answered, out);
      // The end of a file is no key press: nothing to press "again", nothing offered to a pipe.
      assertMatch(out, /^info: ending the session; the agent says goodbye$/m);
      assertMatch(out, /^agent: Goodbye!$/m);
      assertMatch(
        out,
        new RegExp(`^session ended: ${dir}/in\\.wav ended; the agent said goodbye$`, "m"),
      );

      // What --record kept of the user side is what the agent heard: replaying it gives the
      // same turns (the stand-in STT starts its script over in the new session).
      const again = await runToEnd(["--input-wav", `${dir}/rec/user.wav`]);
      assertEquals(again.match(/^you: .*$/gm), turns);
      assertMatch(again, /^session ended: .*user\.wav ended; the agent said goodbye$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: piped input ending ends the session without offering a key the pipe cannot press",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text"]);
    try {
      await proc.type("hello");
      await proc.endInput();
      const st = await proc.exit(60_000);
      assertEquals(st.code, 0, proc.out + proc.err);
      assertMatch(proc.out, /^info: ending the session; the agent says goodbye$/m);
      assertEquals(/Ctrl\+C/.test(proc.out + proc.err), false, proc.out);
      assertMatch(proc.out, /^session ended: the input ended; the agent said goodbye$/m);
      await assertNothingLeft(proc);
    } finally {
      await finish(proc);
    }
  },
});
