/**
 * The repository root and path helpers shared by the bench modules.
 *
 * @module
 */
import { fromFileUrl } from "./paths.ts";

export { dirname, fromFileUrl, join, pathToFileURL } from "./paths.ts";

/** Repository root (the folder holding deno.json). */
export const ROOT: string = fromFileUrl(new URL("../../", import.meta.url));
