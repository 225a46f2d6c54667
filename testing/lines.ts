/**
 * A byte stream as text lines, with std's `TextLineStream` (typed here: the npm build of std
 * this project maps `@std/streams` to ships no type declarations).
 *
 * @module
 */
import { TextLineStream } from "@std/streams";

/** Decodes `stream` as UTF-8 and splits it into lines (`\n` or `\r\n`; the last one even unterminated). */
export function textLines(stream: ReadableStream<Uint8Array>): ReadableStream<string> {
  return stream.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream() as TransformStream<string, string>,
  );
}
