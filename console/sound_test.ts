import { assertEquals } from "@std/assert";
import { checkDeviceChoice, openSound } from "./sound.ts";

function withEnv(vars: Record<string, string>, fn: () => void) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

const NO_LIB = { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" };

Deno.test("sound: no library and no device named: degraded with one reason, never an exception", () => {
  withEnv(NO_LIB, () => {
    for (const mic of [true, false]) {
      const r = openSound(mic, {});
      assertEquals(r, {
        kind: "degraded",
        note: "no audio device found (PortAudio is not installed (apt install libportaudio2))",
      });
    }
    assertEquals(checkDeviceChoice({}), undefined); // nothing named: nothing to check
  });
});

Deno.test("sound: a named device without the library is a mistake naming the flag", () => {
  withEnv(NO_LIB, () => {
    assertEquals(openSound(false, { outputDevice: "2" }), {
      kind: "mistake",
      message:
        "--output-device cannot be used: PortAudio is not installed (apt install libportaudio2)",
    });
    assertEquals(
      checkDeviceChoice({ inputDevice: "USB" }),
      "--input-device cannot be used: PortAudio is not installed (apt install libportaudio2)",
    );
  });
});
