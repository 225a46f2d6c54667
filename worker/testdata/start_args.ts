/**
 * The command line the worker tests start most workers with, shared so that the jobs, shutdown
 * and failure tests run the same worker.
 * @module
 */

/** `start` on any free health port, logging at debug so the tests can wait for its lines. */
export const START = ["start", "--port", "0", "--log-level", "debug"];
