/**
 * The single executable: how `deno task compile` builds `dist/exit-message`
 * and what makes the compiled binary run everything `deno run` runs.
 *
 * - {@link planCompile} / {@link compileArgs}: the recipe (flags, exclusions, payload budget);
 *   {@link computeExclusions}: what of `node_modules` stays out.
 * - {@link normalizeArgv} / {@link installArgvNormalization}: `process.argv` in forked
 *   job and inference processes (installed by `compile/preload.ts` via `--preload`).
 * - {@link isCompiled}: running as a compiled binary or under the `deno` CLI.
 * - {@link findBaseRuntime}: whether `deno compile` can get its base runtime here.
 * - `compile/build.ts` (`deno task compile`), `compile/verify.ts` (`deno task compile:verify`,
 *   running the smoke suite of `compile/smoke.ts`).
 *
 * See compile/README.md for building, target requirements and deployment.
 *
 * @module
 */
export {
  fileUrl,
  installArgvNormalization,
  type InstallResult,
  isCompiled,
  normalizeArgv,
  type NormalizeOptions,
  type RuntimeFacts,
} from "./argv.ts";
export {
  compileArgs,
  type CompilePlan,
  DEFAULT_TARGET,
  ENTRYPOINT,
  EXTRA_MODULES,
  PAYLOAD_BUDGET_BYTES,
  planCompile,
  type PlanOptions,
  PRELOAD,
  requiredAssets,
  type Target,
  TARGETS,
} from "./plan.ts";
export {
  computeExclusions,
  type ExcludeReason,
  type Exclusion,
  isExcluded,
  matchesPlatform,
} from "./exclusions.ts";
export {
  type BaseRuntime,
  cachedZipPath,
  canDownloadBaseRuntime,
  denoDir,
  downloadUrl,
  findBaseRuntime,
} from "./denort.ts";
export { build, NO_BASE_RUNTIME_EXIT_CODE, parseBuildFlags } from "./build.ts";
export { type CheckResult, type Invocation, runSuite } from "./smoke.ts";
export { verify } from "./verify.ts";
