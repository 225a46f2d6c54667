import { assertEquals, assertMatch } from "@std/assert";
import { MicPath } from "./mic_path.ts";

const loud = () => new Int16Array(1440).fill(8000);

Deno.test("mic path: muted frames go out as silence (the stream never stops), paused ones not at all", () => {
  const sent: Int16Array[] = [];
  const recorded: Int16Array[] = [];
  const mic = new MicPath({
    send: (f) => sent.push(f),
    playing: () => false,
    echoGate: true,
    record: { write: (f) => recorded.push(f) },
  });
  mic.push(loud());
  assertEquals(mic.toggleMute(), true);
  mic.push(loud());
  assertEquals(mic.gauge("mic"), "MUTED (m)");
  assertEquals(mic.toggleMute(), false);
  mic.paused = true;
  mic.push(loud());
  assertEquals(sent.map((f) => f[0]), [8000, 0]);
  assertEquals(recorded, sent); // --record keeps exactly what the agent got
});

Deno.test("mic path: the echo gate silences the microphone while the agent is audible", () => {
  let playing = true;
  const sent: number[] = [];
  const gated = new MicPath({
    send: (f) => sent.push(f[0]),
    playing: () => playing,
    echoGate: true,
  });
  gated.push(loud());
  const open = new MicPath({
    send: (f) => sent.push(f[0]),
    playing: () => playing,
    echoGate: false,
  });
  open.push(loud());
  playing = false;
  assertEquals(sent, [0, 8000]);
  // The meter shows what the microphone hears, gate or not (a -12 dBFS frame: most of the bar).
  assertMatch(gated.gauge("mic"), /^mic █{5}/);
});
