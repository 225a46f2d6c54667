/**
 * Emulates a forked child of a `deno compile`d binary under `deno run`, then
 * runs the agents-js child module named first in its arguments.
 *
 * Forked by the tests as `fork(compiled_child.ts, [entry, ...args])`. A
 * compiled binary's child would see `process.argv = [exe, exe, entry, ...args]`
 * with `entry` as its main module; this fixture reproduces that shape, then
 * (unless `EMULATE_NORMALIZE=0`) applies the same normalisation the
 * `--preload` module applies, and imports `entry` as the compiled runtime
 * would run it.
 *
 * @module
 */
import process from "node:process";
import { pathToFileURL } from "node:url";
import { installArgvNormalization } from "../argv.ts";

const entry = process.argv[2];
process.argv[1] = process.argv[0];
if (Deno.env.get("EMULATE_NORMALIZE") !== "0") {
  installArgvNormalization({ compiled: true, mainModule: pathToFileURL(entry).href });
}
if (Deno.env.get("PRINT_ARGV") === "1") console.log(JSON.stringify(process.argv.slice(1)));
await import(pathToFileURL(entry).href);
