import { assertEquals, assertMatch } from "@std/assert";
import { openAudioDevices } from "./portaudio.ts";

const hasSoundCard = (() => {
  try {
    return [...Deno.readDirSync("/dev/snd")].length > 0;
  } catch {
    return false;
  }
})();

Deno.test("portaudio: a missing library is a one-line reason, not an exception", () => {
  const saved = Deno.env.get("PORTAUDIO_LIB");
  Deno.env.set("PORTAUDIO_LIB", "/nonexistent/libportaudio.so.2");
  try {
    const r = openAudioDevices({ rate: 48000, input: true });
    assertEquals(r.ok, false);
    if (!r.ok) assertMatch(r.reason, /^PortAudio is not installed \(.+\)$/);
  } finally {
    if (saved === undefined) Deno.env.delete("PORTAUDIO_LIB");
    else Deno.env.set("PORTAUDIO_LIB", saved);
  }
});

Deno.test({
  name: "portaudio: on a machine without a sound card the probe says so and prints nothing",
  ignore: hasSoundCard || Deno.build.os !== "linux",
  async fn() {
    // In a child process, to see what ALSA/JACK would have written to fd 2.
    const code = `
      import { openAudioDevices } from ${
      JSON.stringify(new URL("./portaudio.ts", import.meta.url).href)
    };
      const r = openAudioDevices({ rate: 48000, input: true });
      console.log(JSON.stringify(r.ok ? "ok" : r.reason));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      cwd: new URL("..", import.meta.url).pathname,
      env: { ALSA_CONFIG_PATH: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr);
    if (stdout === JSON.stringify("PortAudio is not installed (apt install libportaudio2)")) return;
    assertEquals(stdout, JSON.stringify("PortAudio sees no output device"));
    assertEquals(stderr, "", "ALSA/JACK noise leaked to stderr");
  },
});
