/**
 * How a job that was ended without its session (the forced ending, `job_end.ts`) frees its slot
 * in the worker. In a job process of its own, the process exits. In a call host, where other
 * calls share the process, the host releases that one call instead (`worker/call_host/`).
 *
 * @module
 */

let release: ((jobId: string) => boolean) | undefined;

/** Installs the host's releaser: true when it took the job over. */
export function setJobRelease(fn: ((jobId: string) => boolean) | undefined): void {
  release = fn;
}

/** Asks the call host to release `jobId`; false when there is none (a job process of its own). */
export function releaseJob(jobId: string): boolean {
  return release?.(jobId) ?? false;
}
