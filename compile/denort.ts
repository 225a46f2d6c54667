/**
 * Where `deno compile` would find its base runtime (`denort`) without
 * downloading it. It is not on npm, so a build where the Deno download host
 * cannot be reached needs one of:
 * - `DENORT_BIN`: path of a `denort` executable of the same Deno version;
 * - the release zip in the Deno cache:
 *   `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`
 *   (`DENO_DIR` defaults to `$XDG_CACHE_HOME/deno`, else `~/.cache/deno`).
 * The full `deno` binary is not a substitute.
 *
 * @module
 */
import { join } from "node:path";

/** Where a base runtime was found, or every place that was looked at. */
export type BaseRuntime =
  | { found: true; via: "DENORT_BIN" | "cache"; path: string }
  | { found: false; looked: string[] };

/** What {@link findBaseRuntime} reads (defaults: this process). */
export interface BaseRuntimeFacts {
  env?: Pick<Deno.Env, "get">;
  /** Deno version without `v` (default `Deno.version.deno`). */
  denoVersion?: string;
  /** Target triple. */
  target: string;
  /** Whether a path is an existing regular file (default: `Deno.stat`). */
  isFile?: (path: string) => Promise<boolean>;
}

/** The Deno cache directory `deno` itself uses on Linux/macOS. */
export function denoDir(env: Pick<Deno.Env, "get">): string | undefined {
  const explicit = env.get("DENO_DIR");
  if (explicit) return explicit;
  const xdg = env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "deno");
  const home = env.get("HOME");
  return home ? join(home, ".cache", "deno") : undefined;
}

/** Path of the cached base-runtime zip for `target` and `version`. */
export function cachedZipPath(dir: string, version: string, target: string): string {
  return join(dir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/** Looks for a base runtime `deno compile` can use without a download. */
export async function findBaseRuntime(facts: BaseRuntimeFacts): Promise<BaseRuntime> {
  const env = facts.env ?? Deno.env;
  const version = facts.denoVersion ?? Deno.version.deno;
  const isFile = facts.isFile ?? defaultIsFile;
  const looked: string[] = [];
  const bin = env.get("DENORT_BIN");
  if (bin) {
    if (await isFile(bin)) return { found: true, via: "DENORT_BIN", path: bin };
    looked.push(`DENORT_BIN=${bin} (no such file)`);
  } else {
    looked.push("DENORT_BIN (unset)");
  }
  const dir = denoDir(env);
  if (dir) {
    const zip = cachedZipPath(dir, version, facts.target);
    if (await isFile(zip)) return { found: true, via: "cache", path: zip };
    looked.push(zip);
  }
  return { found: false, looked };
}

async function defaultIsFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Where `deno compile` downloads the base runtime from. */
export function downloadUrl(version: string, target: string): string {
  return `https://dl.deno.land/release/v${version}/denort-${target}.zip`;
}

/**
 * Whether the base runtime could be downloaded from here (a bounded HEAD
 * request). False where the host cannot be reached.
 */
export async function canDownloadBaseRuntime(
  target: string,
  opts: { version?: string; timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<boolean> {
  const url = downloadUrl(opts.version ?? Deno.version.deno, target);
  try {
    const res = await (opts.fetch ?? fetch)(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
