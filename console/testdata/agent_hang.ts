/**
 * Fake agent that starts, logs, ignores SIGINT and never dials the broker.
 *
 * @module
 */
console.log("[00:00:00.000] INFO (1): fake agent starting");
console.error("[00:00:00.001] WARN (1): pretending to wait for something that never comes");
Deno.addSignalListener("SIGINT", () => console.log("fake agent ignores SIGINT"));
setInterval(() => {}, 1000);
