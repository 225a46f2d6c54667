/**
 * Reads `.env` at run time, never at build time.
 *
 * JSR's `@std/dotenv` cannot be installed here (JSR is unreachable), and its
 * `load()` is deprecated upstream anyway. Node's `util.parseEnv` (provided by
 * Deno) parses the file; we apply it ourselves because Deno's
 * `process.loadEnvFile` overrides variables that are already set, and here the
 * environment must win over the file.
 *
 * @module
 */
import { parseEnv } from "node:util";
import { UserError } from "./errors.ts";

/** What {@link loadEnvFile} did, for a debug log line (values are never logged). */
export interface EnvFileResult {
  /** Absolute or relative path that was read, or `undefined` when no file existed. */
  path?: string;
  /** Names set from the file (absent from the environment before). */
  applied: string[];
  /** Names present in the file but already set in the environment, which won. */
  shadowed: string[];
}

/**
 * Loads `path` (default `.env` in the working directory) into the environment.
 * A missing default file is fine; a missing explicit file, or any file that
 * cannot be read, is a {@link UserError}.
 */
export function loadEnvFile(
  path = ".env",
  options: { required?: boolean; env?: Deno.Env } = {},
): EnvFileResult {
  const env = options.env ?? Deno.env;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !options.required) {
      return { applied: [], shadowed: [] };
    }
    const why = error instanceof Error ? error.message : String(error);
    throw new UserError(
      `cannot read the env file ${path} (${why}); fix its permissions or path, or remove it and set the variables in the environment`,
    );
  }
  const parsed = parseEnv(text);
  const applied: string[] = [];
  const shadowed: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (value === undefined) continue;
    if (env.get(name) !== undefined) {
      shadowed.push(name);
    } else {
      env.set(name, value);
      applied.push(name);
    }
  }
  return { path, applied, shadowed };
}
