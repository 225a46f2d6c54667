/**
 * Call hosts: several calls per job process (see `hosts.ts` for placement and retirement,
 * `host_main.ts` for the host process, `install.ts` for how a worker switches to them).
 *
 * @module
 */
export { HostChannel, KILL_GRACE_MS } from "./channel.ts";
export {
  CallHosts,
  type CallHostsOptions,
  DEFAULT_RETIRE_AFTER_CALLS,
  HOST_MAIN,
  type HostInfo,
} from "./hosts.ts";
export { installCallHosts } from "./install.ts";
