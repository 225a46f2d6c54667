/**
 * Path helpers (Node's, which Deno provides; JSR's `@std/path` is unreachable here).
 *
 * @module
 */
export { dirname, join } from "node:path";
export { fileURLToPath as fromFileUrl, pathToFileURL } from "node:url";
