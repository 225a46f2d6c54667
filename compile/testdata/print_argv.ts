/** Prints `process.argv` from index 1 as JSON (the preload test reads it). */
import process from "node:process";

console.log(JSON.stringify(process.argv.slice(1)));
