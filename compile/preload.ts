/**
 * The `deno compile --preload` module: runs before the main module in every
 * process the compiled binary starts, including the job and inference
 * processes agents-js forks (whose main module is agents-js's own
 * `ipc/*_lazy_main.js`, so no project code could run first otherwise).
 *
 * It only restores Node's `process.argv` shape in a forked child (see
 * argv.ts). Under `deno run` it is a no-op. Keep it tiny and free of
 * agents-js imports: it is evaluated before anything else in every process.
 *
 * @module
 */
import { installArgvNormalization } from "./argv.ts";

installArgvNormalization();
