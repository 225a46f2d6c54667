import { assertEquals } from "@std/assert";
import { recordingDrift } from "./room_call.ts";

Deno.test("recordingDrift: a recording shorter than the time it spans is aligned on its end", () => {
  // 10 s of samples (48 kHz) that started 12 s before the recording ended: 2 s were lost.
  assertEquals(recordingDrift(12_000, { startAt: 0, samples: 480_000 }), 2_000);
  // Jitter under 250 ms is no drift.
  assertEquals(recordingDrift(10_200, { startAt: 0, samples: 480_000 }), 0);
  // A recording that looks longer than its span (the first frame stamped late) is left alone.
  assertEquals(recordingDrift(9_000, { startAt: 0, samples: 480_000 }), 0);
});
