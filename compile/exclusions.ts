/**
 * What of `node_modules` stays out of the binary, and why: other platforms'
 * packages and native binaries, the type checker, coverage reports and source
 * maps, as exact `deno compile --exclude` paths.
 *
 * Why excludes are exact paths: `deno compile --exclude` takes paths, not
 * globs, and Deno's VFS builder skips a path only when it is exactly an
 * excluded one, wherever its walk meets it, including inside the local
 * `node_modules` directory (which it embeds whole, every platform's native
 * binaries included). Symlinked packages are reached through their target,
 * the package folder inside the store entry, so that is excluded too.
 *
 * @module
 */
import { join } from "node:path";
import { sortedDir, treeBytes, walkFiles } from "./file_tree.ts";
import type { Target } from "./plan.ts";

/** Why a path is left out of the binary. */
export type ExcludeReason =
  | "other-platform package"
  | "other-platform onnxruntime binaries"
  | "type checker (build time only)"
  | "test coverage report"
  | "source map";

/** One `--exclude`: an absolute path and the reason. */
export interface Exclusion {
  path: string;
  reason: ExcludeReason;
  /** Bytes of regular files under the path (0 when a parent exclusion already counts them). */
  bytes: number;
}

/**
 * What to leave out of `node_modules` for `target`:
 * - npm platform packages (`os`/`cpu`/`libc` in package.json) for another
 *   platform, e.g. sharp's musl build on a glibc target;
 * - onnxruntime-node's `bin/napi-v6/<platform>/<arch>` folders for other
 *   platforms (one package ships all of them: ~180 MB);
 * - TypeScript and its native compiler (a peer dependency, never loaded at run time);
 * - `coverage/` folders at a package root (test reports shipped by mistake);
 * - `*.map` source maps (only stack-trace cosmetics for agents-js internals).
 */
export async function computeExclusions(
  nodeModules: string,
  target: Target,
): Promise<Exclusion[]> {
  const store = join(nodeModules, ".deno");
  const out: Exclusion[] = [];
  const excludedDirs = new Set<string>();
  const add = async (path: string, reason: ExcludeReason, counted = true) => {
    excludedDirs.add(path);
    out.push({ path, reason, bytes: counted ? await treeBytes(path) : 0 });
  };
  // A whole package: its store folder, and the package folder inside it by
  // name, because the symlinks other packages resolve it through point at
  // the inner folder and the VFS builder matches excluded paths exactly.
  const addPackage = async (storeDir: string, pkgDir: string, reason: ExcludeReason) => {
    await add(storeDir, reason);
    await add(pkgDir, reason, false);
  };
  for await (const entry of sortedDir(store)) {
    if (!entry.isDirectory || entry.name === "node_modules") continue;
    const pkgName = storeNameToPackage(entry.name);
    if (!pkgName) continue;
    const pkgDir = join(store, entry.name, "node_modules", pkgName);
    const manifest = await readManifest(pkgDir);
    if (pkgName === "typescript" || pkgName.startsWith("@typescript/")) {
      await addPackage(join(store, entry.name), pkgDir, "type checker (build time only)");
      continue;
    }
    if (manifest && !matchesPlatform(manifest, target)) {
      await addPackage(join(store, entry.name), pkgDir, "other-platform package");
      continue;
    }
    if (pkgName === "onnxruntime-node") {
      const binRoot = join(pkgDir, "bin", "napi-v6");
      for await (const plat of sortedDir(binRoot)) {
        if (!plat.isDirectory) continue;
        if (plat.name !== target.platform) {
          await add(join(binRoot, plat.name), "other-platform onnxruntime binaries");
          continue;
        }
        for await (const arch of sortedDir(join(binRoot, plat.name))) {
          if (arch.isDirectory && arch.name !== target.arch) {
            await add(join(binRoot, plat.name, arch.name), "other-platform onnxruntime binaries");
          }
        }
      }
    }
    const coverage = join(pkgDir, "coverage");
    if (await isDir(coverage)) await add(coverage, "test coverage report");
  }
  // Source maps, file by file, outside the folders already excluded.
  for await (const file of walkFiles(store, excludedDirs)) {
    if (file.path.endsWith(".map")) {
      out.push({ path: file.path, reason: "source map", bytes: file.size });
    }
  }
  return out;
}

/** npm's `os`/`cpu`/`libc` platform filter (a `!name` entry excludes, as npm reads it). */
export function matchesPlatform(
  manifest: { os?: string[]; cpu?: string[]; libc?: string[] },
  target: Target,
): boolean {
  const ok = (list: string[] | undefined, value: string | undefined) => {
    if (!list || list.length === 0 || value === undefined) return true;
    if (list.includes(`!${value}`)) return false;
    const positive = list.filter((v) => !v.startsWith("!"));
    return positive.length === 0 || positive.includes(value);
  };
  return ok(manifest.os, target.platform) && ok(manifest.cpu, target.arch) &&
    ok(manifest.libc, target.platform === "linux" ? target.libc : undefined);
}

/** `@img+sharp-linux-x64@0.35.4` -> `@img/sharp-linux-x64`; undefined for non-package entries. */
export function storeNameToPackage(storeName: string): string | undefined {
  const m = /^(@[^+]+\+)?([^@]+)@.+$/.exec(storeName);
  if (!m) return undefined;
  return m[1] ? `${m[1].slice(0, -1)}/${m[2]}` : m[2];
}

/** Whether `path` is excluded by `exclusions` (itself or under an excluded folder). */
export function isExcluded(path: string, exclusions: readonly Exclusion[]): boolean {
  return exclusions.some((e) => path === e.path || path.startsWith(e.path + "/"));
}

async function readManifest(
  pkgDir: string,
): Promise<{ os?: string[]; cpu?: string[]; libc?: string[] } | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(pkgDir, "package.json")));
  } catch {
    return undefined;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.lstat(path)).isDirectory;
  } catch {
    return false;
  }
}
