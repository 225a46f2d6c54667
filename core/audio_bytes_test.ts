import { assertEquals } from "@std/assert";
import fc from "fast-check";
import { AudioByteStream, initializeLogger } from "@livekit/agents";
import { installLinearAudioByteStream, originalAudioByteStream } from "./audio_bytes.ts";

initializeLogger({ pretty: false, level: "fatal" });
installLinearAudioByteStream();

type Frame = { data: number[]; sampleRate: number; channels: number; samples: number };
const plain = (
  frames: { data: Int16Array; sampleRate: number; channels: number; samplesPerChannel: number }[],
): Frame[] =>
  frames.map((f) => ({
    data: [...f.data],
    sampleRate: f.sampleRate,
    channels: f.channels,
    samples: f.samplesPerChannel,
  }));

Deno.test("AudioByteStream: the linear write and flush give agents-js's frames for any writes", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(8000, 16000, 24000, 48000),
      fc.constantFrom(1, 2),
      fc.option(fc.integer({ min: 1, max: 2400 }), { nil: null }),
      fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 30 }),
      fc.array(fc.nat(29), { maxLength: 5 }),
      (rate, channels, samplesPerChannel, sizes, flushAfter) => {
        const ours = new AudioByteStream(rate, channels, samplesPerChannel);
        const theirs = new AudioByteStream(rate, channels, samplesPerChannel);
        let n = 0;
        sizes.forEach((size, i) => {
          // Even sizes, as PCM16 is; byte offsets inside a larger buffer, as sockets deliver.
          const backing = new Uint8Array(size * 2 + 6);
          for (let j = 0; j < backing.length; j++) backing[j] = (n++ * 37) & 0xff;
          const view = new Uint8Array(backing.buffer, 4, size * 2);
          assertEquals(
            plain(ours.write(view)),
            plain(originalAudioByteStream.write.call(theirs, view)),
          );
          if (flushAfter.includes(i)) {
            assertEquals(plain(ours.flush()), plain(originalAudioByteStream.flush.call(theirs)));
          }
        });
        assertEquals(plain(ours.flush()), plain(originalAudioByteStream.flush.call(theirs)));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("AudioByteStream: an odd byte left at flush is dropped with the warning and kept, as agents-js does", () => {
  const ours = new AudioByteStream(16000, 1, 160);
  const theirs = new AudioByteStream(16000, 1, 160);
  for (const s of [ours, theirs]) {
    const w = s === ours ? ours.write.bind(ours) : originalAudioByteStream.write.bind(theirs);
    w(new Uint8Array(300));
    w(new Uint8Array(3));
  }
  assertEquals(ours.flush(), originalAudioByteStream.flush.call(theirs));
  assertEquals(
    plain(ours.write(new Uint8Array(17))),
    plain(originalAudioByteStream.write.call(theirs, new Uint8Array(17))),
  );
  assertEquals(plain(ours.flush()), plain(originalAudioByteStream.flush.call(theirs)));
});
