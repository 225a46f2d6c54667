/**
 * `deno task compile`: builds the single executable `dist/exit-message`.
 *
 *   deno task compile                      # linux x64 (x86_64-unknown-linux-gnu)
 *   deno task compile --target aarch64-unknown-linux-gnu
 *   deno task compile --dry-run            # plan, payload size and command; no build
 *   deno task compile --no-check           # skip the type check
 *
 * Exit status: 0 built (or dry run); 1 build failed or payload over budget;
 * 2 bad flag; 3 no base runtime (`denort`) available, nothing built.
 *
 * @module
 */
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

/** What `deno task compile` says when it has no base runtime (exit 3). */
export function noBaseRuntimeMessage(
  triple: string,
  looked: readonly string[],
  targetFlag?: string,
): string {
  return [
    `error: no base runtime (denort ${Deno.version.deno}, ${triple}) is available, so nothing was built.`,
    "deno compile could not download it (this workplace cannot reach the Deno download host,",
    "and denort is not published on npm). Looked at:",
    ...looked.map((l) => `  ${l}`),
    "Build where it is available: set DENORT_BIN=/path/to/denort (same Deno version), or put",
    `denort-${triple}.zip in the cache path above, or use a machine that reaches dl.deno.land:`,
    `  deno task compile${targetFlag ? ` --target ${targetFlag}` : ""}`,
  ].join("\n");
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
  if (runtime.found) console.log(`base runtime: ${runtime.path} (${runtime.via})`);
  else console.log("base runtime: none here; deno compile will try to download it");
  await Deno.mkdir(`${plan.root}/dist`, { recursive: true });
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: plan.args,
    cwd: plan.root,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  // Forward stderr as it comes, keeping it to recognise a failed download.
  let stderr = "";
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += chunk;
    await Deno.stderr.write(new TextEncoder().encode(chunk));
  }
  const status = await child.status;
  if (!status.success) {
    if (!runtime.found && isBaseRuntimeFailure(stderr)) {
      console.error(noBaseRuntimeMessage(plan.target.triple, runtime.looked, flags.target));
      return NO_BASE_RUNTIME_EXIT_CODE;
    }
    console.error(`error: deno compile failed (exit ${status.code})`);
    return 1;
  }
  const size = (await Deno.stat(`${plan.root}/${plan.output}`)).size;
  console.log(
    `built ${plan.output}: ${mb(size)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await build(Deno.args));
