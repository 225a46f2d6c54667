import { assertEquals } from "@std/assert";
import { parseConsoleArgs } from "./options.ts";
import { Talk } from "./talk.ts";
import { ConsoleUi } from "./ui.ts";

/** A Talk for `args`, its screen captured, without PortAudio. */
function talkFor(args: string[]) {
  const out: string[] = [];
  const ui = new ConsoleUi({
    tty: false,
    write: (s) => out.push(s),
    writeErr: (s) => out.push(`(stderr) ${s}`),
  });
  const commandModes: boolean[] = [];
  const talk = new Talk({
    ui,
    opts: parseConsoleArgs(args),
    setCommandMode: (on) => commandModes.push(on),
    onReplayFinished: () => {},
  });
  return { talk, out, commandModes };
}

function withoutPortAudio(fn: () => void) {
  const saved = Deno.env.get("PORTAUDIO_LIB");
  Deno.env.set("PORTAUDIO_LIB", "/nonexistent/libportaudio.so");
  try {
    fn();
  } finally {
    if (saved === undefined) Deno.env.delete("PORTAUDIO_LIB");
    else Deno.env.set("PORTAUDIO_LIB", saved);
  }
}

Deno.test("talk: without a sound card, voice falls back to text in one line; a replay only loses its speaker", () => {
  withoutPortAudio(() => {
    const voice = talkFor([]);
    assertEquals(voice.talk.openDevices(), true);
    assertEquals(voice.talk.mode, "text");
    // The banner comes first and names the mode the console runs in; then the note.
    assertEquals([voice.talk.modeLabel(), voice.out], ["text", []]);
    voice.talk.sayDeviceNotes();
    assertEquals(voice.out, [
      "warning: no audio device found (PortAudio is not installed (apt install libportaudio2)); continuing in text mode\n",
    ]);
    const wav = talkFor(["--input-wav", "x.wav"]);
    assertEquals(wav.talk.openDevices(), true);
    wav.talk.sayDeviceNotes();
    assertEquals([wav.talk.mode, wav.talk.modeLabel()], ["wav", "voice from x.wav"]);
    assertEquals(wav.out.length, 1);
    assertEquals(wav.out[0].endsWith("the agent's speech is timed, not played\n"), true);
  });
});

Deno.test("talk: a device the user named is a mistake when it cannot be used, in every mode", () => {
  withoutPortAudio(() => {
    for (const args of [["--input-device", "USB"], ["--text", "--output-device", "1"]]) {
      const { talk, out } = talkFor(args);
      assertEquals(talk.openDevices(), false, args.join(" "));
      talk.sayDeviceNotes();
      assertEquals(out.length, 1);
      assertEquals(out[0].startsWith("(stderr) error: --"), true, out[0]);
    }
  });
});

Deno.test("talk: keys act only while the session runs; the status line follows the mode", () => {
  const { talk, out, commandModes } = talkFor(["--no-devices"]);
  assertEquals(talk.openDevices(), true);
  talk.sayDeviceNotes();
  assertEquals(talk.mode, "text");
  // Not attached to a session yet: a command key is swallowed, nothing happens.
  assertEquals(talk.onKey("?", false), true);
  assertEquals(talk.onKey("x", false), false);
  talk.hints();
  assertEquals(commandModes, [false]); // text mode types
  assertEquals(out, ["info: sound devices disabled (--no-devices); continuing in text mode\n"]);
});
