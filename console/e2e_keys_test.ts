/**
 * End-to-end on a terminal: the console under a pseudo-terminal (util-linux
 * `script`), keys pressed as a user would, the screen read back. Ignored, with
 * the reason, where `script` is not util-linux's; the voice test also needs
 * PortAudio and ALSA (the null device stands in for a sound card).
 */
import { assertEquals, assertGreater, assertMatch } from "@std/assert";
import { ALSA_NULL_CONF, ConsoleProc, HAVE_PTY, MAIN, settled } from "./testdata/harness.ts";
import { listAudioDevices } from "./portaudio.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const CTRL_T = "\x14";
const CTRL_C = "\x03";
const NO_PTY = HAVE_PTY ? "" : " [ignored: no util-linux `script` to give the console a terminal]";
const NO_ALSA = " [ignored: PortAudio (libportaudio2) or ALSA not installed]";

const haveAlsaNull = (() => {
  if (!HAVE_PTY) return false;
  try {
    Deno.statSync("/usr/share/alsa/alsa.conf");
  } catch {
    return false;
  }
  const saved = Deno.env.get("ALSA_CONFIG_PATH");
  Deno.env.set("ALSA_CONFIG_PATH", ALSA_NULL_CONF);
  try {
    const list = listAudioDevices();
    return list.ok && list.devices.length > 0;
  } finally {
    if (saved === undefined) Deno.env.delete("ALSA_CONFIG_PATH");
    else Deno.env.set("ALSA_CONFIG_PATH", saved);
  }
})();

async function finish(proc: ConsoleProc) {
  if ((await settled([proc.child.pid], 0)).length) await proc.kill();
  else {
    await proc.status;
    await proc.endInput();
  }
}

Deno.test({
  name:
    "e2e (terminal): text mode: ? lists the keys, Enter sends, Ctrl+T without a sound card says so, Ctrl+C ends",
  ignore: !HAVE_PTY,
  ...opts,
  async fn() {
    const proc = new ConsoleProc(
      [MAIN, "console", "--offline", "--text"],
      { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" },
      true,
    );
    try {
      await proc.waitFor(/agent connected/, 60_000);
      await proc.press("?");
      await proc.waitFor(/keys: Enter send · Ctrl\+T speak instead/, 10_000);
      await proc.press("hello\r");
      await proc.waitFor(/agent › Hello! Nice to hear you/, 30_000);
      await proc.waitFor(/⏱ llm_ttft [\d.]+ms · tts_ttfb [\d.]+ms · e2e \d+ms/, 10_000);
      await proc.press(CTRL_T);
      await proc.waitFor(
        /no audio device found \(PortAudio is not installed.*staying in text mode/,
        10_000,
      );
      await proc.press(CTRL_C);
      await proc.waitFor(
        /ending the session; the agent says goodbye \(Ctrl\+C again to quit at once\)/,
        10_000,
      );
      const st = await proc.exit(30_000);
      assertEquals(st.code, 0, proc.out);
      assertMatch(proc.out, /session ended: you pressed Ctrl\+C; the agent said goodbye/);
      assertGreater(proc.pids.size, 0);
      assertEquals(await settled(proc.leftovers()), []);
    } finally {
      await finish(proc);
    }
  },
});

Deno.test({
  name:
    `e2e (terminal, ALSA null device): voice mode: a live level meter, m mutes and unmutes, Ctrl+T to text and back${
      HAVE_PTY ? haveAlsaNull ? "" : NO_ALSA : NO_PTY
    }`,
  ignore: !haveAlsaNull,
  ...opts,
  async fn() {
    const proc = new ConsoleProc(
      [MAIN, "console", "--offline"],
      { ALSA_CONFIG_PATH: ALSA_NULL_CONF },
      true,
    );
    try {
      await proc.waitFor(/agent connected/, 60_000);
      // The meter: "mic", a bar, a level in dB, on the status line.
      await proc.waitFor(/listening mic [ ▏▎▍▌▋▊▉█]{10} +(-?\d+|-∞) dB/, 10_000);
      await proc.press("m");
      await proc.waitFor(/microphone muted \(m to unmute\)/, 10_000);
      await proc.waitFor(/MUTED \(m\)/, 10_000);
      await proc.press("m");
      await proc.waitFor(/microphone on/, 10_000);
      await proc.press(CTRL_T);
      await proc.waitFor(/text mode: type a message and press Enter/, 10_000);
      await proc.press("hello\r");
      await proc.waitFor(/you +› hello/, 10_000);
      await proc.waitFor(/agent › /, 30_000);
      await proc.press(CTRL_T);
      await proc.waitFor(/voice mode: speak \(m mutes, Ctrl\+T to type\)/, 30_000);
      await proc.press(CTRL_C);
      const st = await proc.exit(30_000);
      assertEquals(st.code, 0, proc.out);
      assertEquals(await settled(proc.leftovers()), []);
    } finally {
      await finish(proc);
    }
  },
});
