/**
 * `process.argv` as agents-js expects it, in a `deno compile`d binary too.
 *
 * agents-js forks its job and inference processes with
 * `fork(<agents>/dist/ipc/job_proc_lazy_main.js, [agentPath])` and the child
 * reads `process.argv[2]` at module top level (the agent path, or the JSON
 * list of inference runners). The forked module is fixed by agents-js (it is
 * computed from its own `import.meta.url`); nothing lets us choose it.
 *
 * How argv looks in each case (read from Deno 2.9's node polyfills):
 * - `deno run`, or a forked child of it: `[deno, module, ...args]`, Node's shape.
 * - compiled parent: `[exe, exe, ...args]`; `process.argv[1]` is
 *   `Deno.execPath()` in a standalone binary, like Node's single-executable apps.
 * - compiled forked child: `fork()` re-executes the binary as
 *   `exe <module> ...args` and names the module in the internal variable
 *   `DENO_INTERNAL_CHILD_ENTRYPOINT`; the runtime runs that module as the
 *   main module, but argv keeps it as a user argument:
 *   `[exe, exe, module, ...args]`. `argv[2]` is then the module's own path:
 *   the job fails with "Unable to load agent", the inference process with a
 *   JSON parse error.
 *
 * {@link normalizeArgv} restores Node's shape in that last case only, and
 * {@link installArgvNormalization} applies it to the live `process.argv`. It
 * must run before agents-js's child module is evaluated; `compile/preload.ts`
 * does that through `deno compile --preload`, which a compiled binary runs
 * before the main module in every process it starts, forked children included.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isAbsolute, resolve } from "node:path";

/** What {@link isCompiled} looks at (defaults: this process). */
export interface RuntimeFacts {
  /** `Deno.build`: `standalone` is true in a `deno compile`d binary (Deno >= 2.1). */
  build?: { standalone?: boolean };
  /** `Deno.execPath()`: the `deno` CLI or the compiled executable. */
  execPath?: string;
}

/**
 * True when running as a `deno compile`d executable rather than under the
 * `deno` CLI. Uses `Deno.build.standalone`; on a runtime that lacks the field,
 * falls back to the executable's name (the CLI is always `deno`/`deno.exe`).
 */
export function isCompiled(facts: RuntimeFacts = {}): boolean {
  const build = facts.build ?? Deno.build as { standalone?: boolean };
  if (typeof build.standalone === "boolean") return build.standalone;
  const execPath = facts.execPath ?? Deno.execPath();
  const base = execPath.split(/[\\/]/).pop()!.toLowerCase();
  return base !== "deno" && base !== "deno.exe";
}

/** Facts {@link normalizeArgv} needs besides argv itself. */
export interface NormalizeOptions {
  /** Whether this process is a compiled binary ({@link isCompiled}). */
  compiled: boolean;
  /** URL (or path) of the module this process runs as its main module (`Deno.mainModule`). */
  mainModule: string;
  /** Working directory, to resolve a relative module path (default: `Deno.cwd()`). */
  cwd?: string;
}

/**
 * Returns argv in Node's shape `[exe, module, ...args]` when it has the shape
 * of a compiled binary's forked child, `[exe, exe, module, ...args]` where
 * `module` is the main module; otherwise returns a copy of argv unchanged.
 *
 * The test is deliberately narrow: only a process one of whose arguments
 * names the very module it runs as main is a fork child (fork always passes
 * that module, after the parent's execArgv). A compiled parent (`[exe, exe, "start", ...]`) and
 * everything under `deno run` are left alone.
 */
export function normalizeArgv(argv: readonly string[], opts: NormalizeOptions): string[] {
  if (!opts.compiled || argv.length < 3 || argv[1] !== argv[0]) return [...argv];
  // fork() puts the parent's execArgv (empty in a compiled binary) before the
  // module; Node strips it from the child's argv, so do the same.
  const at = argv.findIndex((arg, i) => i >= 2 && samePath(arg, opts.mainModule, opts.cwd));
  if (at < 0) return [...argv];
  return [argv[0], ...argv.slice(at)];
}

/** Whether `candidate` (a path or file URL) names the same file as `mainModule`. */
function samePath(candidate: string, mainModule: string, cwd?: string): boolean {
  const main = toPath(mainModule, cwd);
  const arg = toPath(candidate, cwd);
  return main !== undefined && arg !== undefined && main === arg;
}

function toPath(spec: string, cwd?: string): string | undefined {
  try {
    if (spec.startsWith("file:")) return fileURLToPath(spec);
    if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return undefined;
    return isAbsolute(spec) ? resolve(spec) : resolve(cwd ?? Deno.cwd(), spec);
  } catch {
    return undefined;
  }
}

/** What {@link installArgvNormalization} did. */
export interface InstallResult {
  /** True when argv had the compiled fork-child shape and was rewritten. */
  changed: boolean;
  /** `process.argv` after the call. */
  argv: readonly string[];
}

/**
 * Rewrites the live `process.argv` in place (agents-js holds no copy of it)
 * with {@link normalizeArgv}. Idempotent: the rewritten argv no longer has the
 * fork-child shape. The options exist for tests; by default they describe
 * this process.
 */
export function installArgvNormalization(
  opts: Partial<NormalizeOptions> & { argv?: string[] } = {},
): InstallResult {
  const argv = opts.argv ?? process.argv;
  const next = normalizeArgv(argv, {
    compiled: opts.compiled ?? isCompiled(),
    mainModule: opts.mainModule ?? Deno.mainModule,
    cwd: opts.cwd,
  });
  const changed = next.length !== argv.length;
  if (changed) argv.splice(0, argv.length, ...next);
  return { changed, argv };
}

/** `pathToFileURL(path).href`, for callers that build a `mainModule` from a path. */
export function fileUrl(path: string): string {
  return pathToFileURL(path).href;
}
