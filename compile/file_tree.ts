/**
 * Walking a file tree for the compile recipe: listings in name order (so
 * exclusions and sizes come out the same on every machine), regular files
 * with their sizes, and byte counts.
 *
 * @module
 */
import { join } from "node:path";

/** Entries of `dir` sorted by name; nothing when `dir` does not exist. */
export async function* sortedDir(dir: string): AsyncGenerator<Deno.DirEntry> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  yield* entries;
}

/** Regular files under `dir` (symlinks not followed: they point inside the store). */
export async function* walkFiles(
  dir: string,
  skip: ReadonlySet<string>,
): AsyncGenerator<{ path: string; size: number }> {
  if (skip.has(dir)) return;
  for await (const e of sortedDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) yield* walkFiles(path, skip);
    else if (e.isFile && !skip.has(path)) yield { path, size: (await Deno.lstat(path)).size };
  }
}

/** Bytes of regular files under `path` (or of the file itself). */
export async function treeBytes(path: string): Promise<number> {
  const st = await Deno.lstat(path).catch(() => undefined);
  if (!st) return 0;
  if (st.isFile) return st.size;
  let n = 0;
  for await (const f of walkFiles(path, new Set())) n += f.size;
  return n;
}
