/** Turns a `file:` URL into a path (node:url's, which Deno provides). */
export { fileURLToPath as fromFileUrl } from "node:url";
