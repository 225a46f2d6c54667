/**
 * The compile recipe as data: which target, which flags, which files of
 * `node_modules` stay out of the binary and why, and how big the embedded
 * payload is. Ordinary code, so tests hold the recipe to its budget.
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
import { join, relative, resolve } from "node:path";

/** A `deno compile --target` and what it means for npm's platform packages. */
export interface Target {
  /** Rust target triple, as `deno compile --target` takes it. */
  triple: string;
  /** Node's `process.platform` on that target. */
  platform: "linux" | "darwin" | "win32";
  /** Node's `process.arch` on that target. */
  arch: "x64" | "arm64";
  /** C library on Linux targets (npm `libc` field). */
  libc?: "glibc" | "musl";
  /** File name suffix of the executable. */
  exeSuffix: "" | ".exe";
}

/** Targets `deno compile` supports. Only linux x64 is built and checked here. */
export const TARGETS: Readonly<Record<string, Target>> = {
  "x86_64-unknown-linux-gnu": {
    triple: "x86_64-unknown-linux-gnu",
    platform: "linux",
    arch: "x64",
    libc: "glibc",
    exeSuffix: "",
  },
  "aarch64-unknown-linux-gnu": {
    triple: "aarch64-unknown-linux-gnu",
    platform: "linux",
    arch: "arm64",
    libc: "glibc",
    exeSuffix: "",
  },
  "x86_64-apple-darwin": {
    triple: "x86_64-apple-darwin",
    platform: "darwin",
    arch: "x64",
    exeSuffix: "",
  },
  "aarch64-apple-darwin": {
    triple: "aarch64-apple-darwin",
    platform: "darwin",
    arch: "arm64",
    exeSuffix: "",
  },
  "x86_64-pc-windows-msvc": {
    triple: "x86_64-pc-windows-msvc",
    platform: "win32",
    arch: "x64",
    exeSuffix: ".exe",
  },
};

/** The target `deno task compile` builds. */
export const DEFAULT_TARGET = "x86_64-unknown-linux-gnu";

/** Budget for the embedded files (decimal megabytes, the stricter reading of "220 MB"). */
export const PAYLOAD_BUDGET_BYTES = 220_000_000;

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

/** Everything `deno task compile` needs to run `deno compile`. */
export interface CompilePlan {
  root: string;
  target: Target;
  /** `dist/exit-message` (+ `-<triple>` for a non-default target, + `.exe`). */
  output: string;
  exclusions: Exclusion[];
  /** Bytes of the files that will be embedded (node_modules after exclusions + project modules). */
  payloadBytes: number;
  /** Bytes of node_modules before exclusions (what a default compile embeds). */
  nodeModulesBytes: number;
  /** Arguments after `deno` (starting with `compile`). */
  args: string[];
}

/** Options of {@link planCompile}. */
export interface PlanOptions {
  /** Project root (default: the parent of this folder). */
  root?: string;
  /** Target triple (default {@link DEFAULT_TARGET}). */
  target?: string;
  /** Output path (default under `dist/`). */
  output?: string;
  /** Skip type checking (`--no-check`); by default compile type-checks like `deno check`. */
  noCheck?: boolean;
}

/** The project root this module belongs to. */
export const PROJECT_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** Entry module of the binary. */
export const ENTRYPOINT = "main.ts";
/** Runs before the main module in every process of the binary (argv normalisation). */
export const PRELOAD = "compile/preload.ts";
/**
 * Modules no static import reaches but a process of the binary imports:
 * agents-js's job processes import the agent module by path (main.ts only
 * computes that path), so it must be embedded explicitly; the worker forks its
 * call hosts by path too (worker/call_host/hosts.ts `HOST_MAIN`).
 */
export const EXTRA_MODULES = ["agent.ts", "worker/call_host/host_main.ts"] as const;

/** Computes the plan: exclusions, payload size and the `deno compile` arguments. */
export async function planCompile(opts: PlanOptions = {}): Promise<CompilePlan> {
  const root = await Deno.realPath(opts.root ?? PROJECT_ROOT);
  const triple = opts.target ?? DEFAULT_TARGET;
  const target = TARGETS[triple];
  if (!target) {
    throw new Error(`unknown target ${triple}; one of: ${Object.keys(TARGETS).join(", ")}`);
  }
  const output = opts.output ?? join(
    "dist",
    `exit-message${triple === DEFAULT_TARGET ? "" : `-${triple}`}${target.exeSuffix}`,
  );
  const nodeModules = join(root, "node_modules");
  const exclusions = await computeExclusions(nodeModules, target);
  const nodeModulesBytes = await treeBytes(nodeModules);
  const excludedBytes = exclusions.reduce((n, e) => n + e.bytes, 0);
  const projectBytes = await projectModuleBytes(root);
  const args = compileArgs({ root, target, output, exclusions, noCheck: opts.noCheck ?? false });
  return {
    root,
    target,
    output,
    exclusions,
    payloadBytes: nodeModulesBytes - excludedBytes + projectBytes,
    nodeModulesBytes,
    args,
  };
}

/**
 * The `deno compile` arguments. Every flag, and why:
 * - `-A`: the permissions a compiled binary runs with are fixed at build time;
 *   `deno task start|console` run with `-A` and forked job processes inherit
 *   the binary's permissions, so the binary gets the same.
 * - `--self-extracting`: on first run, extract the embedded files to disk and
 *   run from there. Native addons need real files: sharp's `.node` loads
 *   `libvips-cpp.so` and onnxruntime's loads `libonnxruntime.so.1` from beside
 *   themselves (rpath `$ORIGIN`), and Silero's model path
 *   (`new URL("silero_vad.onnx", import.meta.url)`) is opened by native code.
 *   In the default in-memory file system none of them exist on disk.
 * - `--preload compile/preload.ts`: runs before the main module in every
 *   process, forked job/inference children included, to fix `process.argv`.
 * - `--include agent.ts`: job processes import the agent by path.
 * - `--exclude <path>` (computed): other platforms' native binaries, the type
 *   checker, a coverage report and source maps; see {@link computeExclusions}.
 * - `--target`, `--output`: the platform and `dist/` file.
 * - `--frozen`: build exactly the locked dependency set; never touch the lockfile.
 * - `--no-check` only on request: by default the build type-checks what it ships.
 * - never `--env-file`: it would bake `.env` values (secrets) into the binary;
 *   main.ts reads `.env` from the working directory at run time instead.
 */
export function compileArgs(p: {
  root: string;
  target: Target;
  output: string;
  exclusions: readonly Exclusion[];
  noCheck: boolean;
}): string[] {
  const args = ["compile", "-A", "--self-extracting", "--frozen"];
  if (p.noCheck) args.push("--no-check");
  args.push("--preload", PRELOAD);
  for (const m of EXTRA_MODULES) args.push("--include", m);
  for (const e of p.exclusions) args.push("--exclude", e.path);
  args.push("--target", p.target.triple, "--output", p.output, ENTRYPOINT);
  return args;
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

/**
 * Files the binary needs on `target` to run everything `deno run` runs, as
 * paths relative to the project root: the Silero model, the native addons and
 * the libraries they load from beside themselves, and agents-js's child entry
 * modules. Tests check each exists and survives the exclusions.
 */
export async function requiredAssets(root: string, target: Target): Promise<string[]> {
  const store = join(root, "node_modules", ".deno");
  const find = async (prefix: string) => {
    for await (const e of sortedDir(store)) if (e.name.startsWith(prefix)) return e.name;
    throw new Error(`no ${prefix}* package under ${store}`);
  };
  const pkg = async (storePrefix: string, name: string) =>
    join(store, await find(storePrefix), "node_modules", name);
  const agents = await pkg("@livekit+agents@", "@livekit/agents");
  const silero = await pkg("@livekit+agents-plugin-silero@", "@livekit/agents-plugin-silero");
  const ort = await pkg("onnxruntime-node@", "onnxruntime-node");
  const ortBin = join(ort, "bin", "napi-v6", target.platform, target.arch);
  const assets = [
    join(root, ENTRYPOINT),
    join(root, PRELOAD),
    ...EXTRA_MODULES.map((m) => join(root, m)),
    join(agents, "dist", "ipc", "job_proc_lazy_main.js"),
    join(agents, "dist", "ipc", "inference_proc_lazy_main.js"),
    join(agents, "dist", "inference", "eot", "runner.js"),
    join(silero, "dist", "silero_vad.onnx"),
    join(ortBin, "onnxruntime_binding.node"),
  ];
  if (target.platform === "linux") {
    const plat = `${target.platform}-${target.arch}`;
    const sharp = await pkg(`@img+sharp-${plat}@`, `@img/sharp-${plat}`);
    const vips = await pkg(`@img+sharp-libvips-${plat}@`, `@img/sharp-libvips-${plat}`);
    const gnu = target.libc === "glibc" ? "gnu" : "musl";
    const rtc = await pkg(
      `@livekit+rtc-ffi-bindings-${plat}-${gnu}@`,
      `@livekit/rtc-ffi-bindings-${plat}-${gnu}`,
    );
    const eot = await pkg(
      `@livekit+local-inference-${plat}-${gnu}@`,
      `@livekit/local-inference-${plat}-${gnu}`,
    );
    assets.push(
      join(ortBin, "libonnxruntime.so.1"),
      ...await filesIn(join(sharp, "lib"), (n) => n.endsWith(".node")),
      ...await filesIn(join(vips, "lib"), (n) => n.startsWith("libvips-cpp.so")),
      ...await filesIn(rtc, (n) => n.endsWith(".node")),
      ...await filesIn(eot, (n) => n.endsWith(".node")),
    );
  }
  return assets.map((a) => relative(root, a));
}

/** Whether `path` is excluded by `exclusions` (itself or under an excluded folder). */
export function isExcluded(path: string, exclusions: readonly Exclusion[]): boolean {
  return exclusions.some((e) => path === e.path || path.startsWith(e.path + "/"));
}

/** Megabytes with one decimal, for messages. */
export function mb(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** Sizes of the project's own modules that compile embeds (approximate: all non-test .ts). */
async function projectModuleBytes(root: string): Promise<number> {
  let n = 0;
  for (const top of [ENTRYPOINT, ...EXTRA_MODULES, "prewarm.ts", "deno.json", "deno.lock"]) {
    n += await Deno.stat(join(root, top)).then((s) => s.size, () => 0);
  }
  for (const dir of ["core", "console", "worker", "compile"]) {
    for await (const f of walkFiles(join(root, dir), new Set())) {
      if (f.path.endsWith(".ts") && !f.path.endsWith("_test.ts")) n += f.size;
    }
  }
  return n;
}

async function filesIn(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const e of sortedDir(dir)) if (e.isFile && keep(e.name)) out.push(join(dir, e.name));
  return out;
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

async function* sortedDir(dir: string): AsyncGenerator<Deno.DirEntry> {
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
async function* walkFiles(
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
