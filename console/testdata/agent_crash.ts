/**
 * Fake agent that fails at start-up with a log line and exit code 3.
 *
 * @module
 */
console.error("[00:00:00.000] ERROR (1): fake agent cannot load its model");
Deno.exit(3);
