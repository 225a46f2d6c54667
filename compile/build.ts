/**
 * `deno task compile`: builds the single executable `dist/exit-message`.
 *
 *   deno task compile                      # linux x64 (x86_64-unknown-linux-gnu)
 *   deno task compile --target aarch64-unknown-linux-gnu
 *   deno task compile --dry-run            # plan, payload size and command; no build
 *   deno task compile --no-check           # skip the type check
 *
 * Exit status: 0 built (or dry run); 1 build failed or payload over budget;
 * 2 bad flag or a `DENORT_BIN` that is no file; 3 no base runtime (`denort`) available and none
 * could be downloaded: one line says so, and nothing is left behind (no empty `dist/`).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { findBaseRuntime } from "./denort.ts";
import { type CompilePlan, mb, PAYLOAD_BUDGET_BYTES, planCompile } from "./plan.ts";

/** Exit status when no base runtime is available (distinct from a failed build). */
export const NO_BASE_RUNTIME_EXIT_CODE = 3;

/** Parsed flags of `deno task compile`. */
export interface BuildFlags {
  target?: string;
  output?: string;
  dryRun: boolean;
  noCheck: boolean;
  /** Print every `--exclude` (thousands of source maps) instead of a summary. */
  verbose: boolean;
}

/** Parses the flags; throws a message for an unknown one. */
export function parseBuildFlags(args: readonly string[]): BuildFlags {
  const flags: BuildFlags = { dryRun: false, noCheck: false, verbose: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (name: string) => {
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
      const v = args[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    if (a === "--dry-run") flags.dryRun = true;
    else if (a === "--no-check") flags.noCheck = true;
    else if (a === "--verbose") flags.verbose = true;
    else if (a === "--target" || a.startsWith("--target=")) flags.target = value("--target");
    else if (a === "--output" || a.startsWith("--output=")) flags.output = value("--output");
    else throw new Error(`unknown flag ${a}`);
  }
  return flags;
}

/** Human summary of a plan (what is excluded, why, and the payload against the budget). */
export function describePlan(plan: CompilePlan, verbose = false): string {
  const lines = [
    `target:   ${plan.target.triple}`,
    `output:   ${plan.output}`,
    `payload:  ${mb(plan.payloadBytes)} embedded (budget ${mb(PAYLOAD_BUDGET_BYTES)}); ` +
    `node_modules is ${mb(plan.nodeModulesBytes)} before exclusions`,
    "excluded:",
  ];
  const groups = new Map<string, { n: number; bytes: number; paths: string[] }>();
  for (const e of plan.exclusions) {
    const g = groups.get(e.reason) ?? { n: 0, bytes: 0, paths: [] };
    g.n++;
    g.bytes += e.bytes;
    g.paths.push(e.path.slice(plan.root.length + 1));
    groups.set(e.reason, g);
  }
  for (const [reason, g] of groups) {
    lines.push(`  ${reason}: ${g.n} path(s), ${mb(g.bytes)}`);
    if (verbose || g.n <= 4) { for (const p of g.paths) lines.push(`    ${p}`); }
  }
  return lines.join("\n");
}

/** The command line as one shell line, `--exclude`s elided unless verbose. */
export function describeCommand(plan: CompilePlan, verbose = false): string {
  const shown: string[] = [];
  let elided = 0;
  for (let i = 0; i < plan.args.length; i++) {
    if (!verbose && plan.args[i] === "--exclude") {
      elided++;
      i++;
      continue;
    }
    shown.push(plan.args[i]);
  }
  const tail = elided ? `  (+ ${elided} --exclude paths; --verbose lists them)` : "";
  return `deno ${shown.join(" ")}${tail}`;
}

/** Whether deno compile's error output says it could not get its base runtime. */
export function isBaseRuntimeFailure(stderr: string): boolean {
  return /Setting up base binary|denort-[a-z0-9_-]+\.zip/.test(stderr);
}

/**
 * The innermost cause in deno compile's error block (its last `N: ...` line, e.g. `dns error:
 * failed to lookup address information`), or undefined.
 */
export function innermostCause(stderr: string): string | undefined {
  const chain = plain(stderr).split(/^Stack backtrace:/m)[0];
  const causes = [...chain.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1].trim());
  return causes.filter((c) => !/^Setting up base binary/.test(c)).at(-1);
}

/**
 * What `deno task compile` says when it has no base runtime (exit 3): one line, what was missing,
 * why, and how to provide it.
 */
export function noBaseRuntimeMessage(
  triple: string,
  opts: { cause?: string; cachePath?: string; targetFlag?: string } = {},
): string {
  const cause = opts.cause ? ` (${opts.cause})` : "";
  const zip = opts.cachePath ? ` or put the zip at ${opts.cachePath}` : "";
  return `error: nothing was built: deno compile could not download Deno's base runtime, denort ` +
    `${Deno.version.deno} for ${triple}, from dl.deno.land${cause}; set DENORT_BIN=/path/to/denort` +
    `${zip}, then run deno task compile${
      opts.targetFlag ? ` --target ${opts.targetFlag}` : ""
    } again`;
}

/** Text without ANSI colour codes. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** Runs `deno task compile`; returns the exit status. */
export async function build(args: readonly string[]): Promise<number> {
  let flags: BuildFlags;
  try {
    flags = parseBuildFlags(args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }
  const plan = await planCompile({
    target: flags.target,
    output: flags.output,
    noCheck: flags.noCheck,
  });
  console.log(describePlan(plan, flags.verbose));
  console.log(`command:  ${describeCommand(plan, flags.verbose)}`);
  if (plan.payloadBytes > PAYLOAD_BUDGET_BYTES) {
    console.error(
      `error: payload ${mb(plan.payloadBytes)} is over the ${mb(PAYLOAD_BUDGET_BYTES)} budget`,
    );
    return 1;
  }
  if (flags.dryRun) return 0;

  const runtime = await findBaseRuntime({ target: plan.target.triple });
  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin !== undefined && !runtime.found) {
    // deno compile would fail on it with a stack trace; it is the user's to fix.
    console.error(
      `error: nothing was built: DENORT_BIN=${denortBin} is not a file; point it at a denort ` +
        `${Deno.version.deno} for ${plan.target.triple}, or unset it to let deno compile download one`,
    );
    return 2;
  }
  if (runtime.found) console.log(`base runtime: ${runtime.path} (${runtime.via})`);
  else console.log("base runtime: none here; deno compile will try to download it");
  const outDir = dirname(resolve(plan.root, plan.output));
  const made = await missingDirs(outDir);
  await Deno.mkdir(outDir, { recursive: true });
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: plan.args,
    cwd: plan.root,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  // deno compile's progress lines (Check, Compile, Download) are passed on as they come; its
  // error block (from the first `error:` line on, with causes and a backtrace) is kept, to be
  // said in one line when it is the base runtime, or passed on whole when it is anything else.
  let errorBlock = "";
  let buffered = "";
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    if (errorBlock) {
      errorBlock += chunk;
      continue;
    }
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const [k, line] of lines.entries()) {
      if (/^error:/.test(plain(line))) {
        errorBlock = [...lines.slice(k), buffered].join("\n");
        buffered = "";
        break;
      }
      await Deno.stderr.write(new TextEncoder().encode(line + "\n"));
    }
  }
  errorBlock += buffered;
  const status = await child.status;
  if (!status.success) {
    await removeIfEmpty(made);
    if (!runtime.found && isBaseRuntimeFailure(errorBlock)) {
      const cachePath = runtime.looked.find((l) => l.endsWith(".zip"));
      console.error(
        noBaseRuntimeMessage(plan.target.triple, {
          cause: innermostCause(errorBlock),
          cachePath,
          targetFlag: flags.target,
        }),
      );
      return NO_BASE_RUNTIME_EXIT_CODE;
    }
    await Deno.stderr.write(new TextEncoder().encode(errorBlock));
    console.error(`error: deno compile failed (exit ${status.code})`);
    return 1;
  }
  const size = (await Deno.stat(`${plan.root}/${plan.output}`)).size;
  console.log(
    `built ${plan.output}: ${mb(size)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

/** The directories of `dir`'s path that do not exist yet, deepest first. */
async function missingDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      await Deno.stat(d);
      break;
    } catch {
      out.push(d);
    }
  }
  return out;
}

/** Removes the directories this build made, deepest first, as long as they are empty. */
async function removeIfEmpty(dirs: string[]): Promise<void> {
  for (const d of dirs) {
    try {
      await Deno.remove(d); // not recursive: a directory with anything in it stays
    } catch {
      return;
    }
  }
}

if (import.meta.main) Deno.exit(await build(Deno.args));
