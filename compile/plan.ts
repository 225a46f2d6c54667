/**
 * The compile recipe as data: which target, which flags, which files of
 * `node_modules` stay out of the binary (computed in `compile/exclusions.ts`),
 * and how big the embedded payload is. Ordinary code, so tests hold the recipe
 * to its budget.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { computeExclusions, type Exclusion } from "./exclusions.ts";
import { sortedDir, treeBytes, walkFiles } from "./file_tree.ts";

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
