/**
 * Switches a worker to call hosts: agents-js's process pool keeps creating one executor per
 * would-be job process, but each executor's "process" becomes a channel of a shared call host
 * (`hosts.ts`). The one override is `JobProcExecutor.prototype.createProcess`; everything the
 * pool and its supervisor do around it is agents-js's own.
 *
 * @module
 */
import { jobProcExecutor } from "./agents_internals.ts";
import { CallHosts, type CallHostsOptions } from "./hosts.ts";

let installed: { hosts: CallHosts; restore: () => void } | undefined;

/**
 * Routes every job executor of this process to call hosts of `options.callsPerHost` calls.
 * Returns the hosts, and a function that restores agents-js's own process per job.
 */
export async function installCallHosts(
  options: CallHostsOptions,
): Promise<{ hosts: CallHosts; restore: () => void }> {
  if (installed) throw new Error("call hosts are already installed in this process");
  const executor = await jobProcExecutor();
  const hosts = new CallHosts(options);
  const original = executor.prototype.createProcess;
  executor.prototype.createProcess = function createProcess() {
    return hosts.open();
  };
  installed = {
    hosts,
    restore: () => {
      executor.prototype.createProcess = original;
      installed = undefined;
    },
  };
  return installed;
}
