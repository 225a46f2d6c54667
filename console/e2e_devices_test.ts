/**
 * End-to-end: `console --list-devices`, `--input-device`, `--output-device`
 * through the real PortAudio library, with ALSA's null device as the sound
 * card. Ignored, with the reason, where PortAudio or ALSA is missing.
 */
import { assertEquals, assertMatch } from "@std/assert";
import { listAudioDevices } from "./portaudio.ts";
import { ALSA_NULL_CONF, ConsoleProc, MAIN, settled } from "./testdata/harness.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const IGNORED = " [ignored: PortAudio (libportaudio2) or ALSA not installed]";

const devices = (() => {
  try {
    Deno.statSync("/usr/share/alsa/alsa.conf");
  } catch {
    return undefined;
  }
  const saved = Deno.env.get("ALSA_CONFIG_PATH");
  Deno.env.set("ALSA_CONFIG_PATH", ALSA_NULL_CONF);
  try {
    const list = listAudioDevices();
    return list.ok && list.devices.length > 0 ? list.devices : undefined;
  } finally {
    if (saved === undefined) Deno.env.delete("ALSA_CONFIG_PATH");
    else Deno.env.set("ALSA_CONFIG_PATH", saved);
  }
})();

async function run(args: string[], ms = 60_000) {
  const proc = new ConsoleProc([MAIN, "console", ...args], { ALSA_CONFIG_PATH: ALSA_NULL_CONF });
  try {
    const st = await proc.exit(ms);
    return { st, out: proc.out, err: proc.err, proc };
  } finally {
    if ((await settled([proc.child.pid], 0)).length) await proc.kill();
  }
}

Deno.test({
  name:
    `e2e (ALSA null device): --list-devices prints the device table and exits 0, no account needed${
      devices ? "" : IGNORED
    }`,
  ignore: devices === undefined,
  ...opts,
  async fn() {
    const { st, out, err } = await run(["--list-devices"]);
    assertEquals(st.code, 0, err);
    assertEquals(err, "");
    const lines = out.trim().split("\n");
    assertMatch(lines[0], /^#\s+type\s+name\s+host API\s+default$/);
    assertMatch(out, /^0\s+in\/out\s+default\s+ALSA\s+default in, default out$/m);
  },
});

Deno.test({
  name:
    `e2e (ALSA null device): --input-device/--output-device take a number or a name; a wrong one is one line, exit 2, nothing started${
      devices ? "" : IGNORED
    }`,
  ignore: devices === undefined,
  ...opts,
  async fn() {
    const chosen = await (async () => {
      const proc = new ConsoleProc(
        [MAIN, "console", "--offline", "--input-device", "0", "--output-device", "DEFAULT"],
        { ALSA_CONFIG_PATH: ALSA_NULL_CONF },
      );
      try {
        await proc.waitFor(/agent connected/, 60_000);
        await proc.type("goodbye");
        const st = await proc.exit(60_000);
        return { st, out: proc.out };
      } finally {
        if ((await settled([proc.child.pid], 0)).length) await proc.kill();
      }
    })();
    assertEquals(chosen.st.code, 0, chosen.out);
    assertMatch(chosen.out, /^info: speaker: default \(ALSA\) · microphone: default \(ALSA\)$/m);

    for (
      const [args, re] of [
        [
          ["--input-device", "no-such-mic"],
          /^error: --input-device "no-such-mic" matches no microphone; run console --list-devices to see them$/,
        ],
        [
          ["--output-device", "9"],
          /^error: --output-device 9: there is no device 9; run console --list-devices/,
        ],
        [
          ["--text", "--input-device", "nope"],
          /^error: --input-device "nope" matches no microphone/,
        ],
      ] as const
    ) {
      const { st, err, proc } = await run(["--offline", ...args]);
      assertEquals(st.code, 2, err);
      assertEquals(err.trim().split("\n").length, 1, err);
      assertMatch(err.trim(), re);
      assertEquals(proc.pids.size, 0, `${args.join(" ")} started a process`);
    }
  },
});
