/**
 * A private network namespace for tests and benchmarks: loopback plus one veth pair whose both
 * ends stay inside, with a private IPv4 address ({@link SANDBOX_ADDRESS}) on one end.
 *
 * Why: a real LiveKit room needs WebRTC, and libwebrtc (inside rtc-node, for the agent and the
 * caller) skips loopback interfaces when it gathers ICE candidates; on the host it would use the
 * machine's external interface, which tests must never address. Inside the sandbox the only
 * non-loopback address is the sandbox's own, and there is no route out, so every packet any test
 * sends stays inside a namespace the test run created. The livekit-server advertises the sandbox
 * address as its `node_ip`.
 *
 * `deno run -A testing/real_room/sandbox.ts CMD [ARGS...]` runs CMD inside a fresh sandbox (as root with
 * `unshare --net`, otherwise with `unshare --net --map-root-user`, i.e. a user namespace, which
 * needs no privileges on most Linux systems) and exits with its status. Where no namespace can be
 * made (macOS, a kernel without user namespaces) it says why in one line and runs CMD as is, so
 * everything but the real-room tests still runs; with `REQUIRE_REAL_ROOM=1` (CI) that is an error.
 *
 * @module
 */

/** The sandbox's private IPv4 address (on `em0`, a /24 of its own). */
export const SANDBOX_ADDRESS = "10.213.0.1";

/** Set inside the sandbox to {@link SANDBOX_ADDRESS}. */
export const SANDBOX_ENV = "EXIT_MESSAGE_SANDBOX";

/** When `1`, a missing sandbox or livekit-server is an error instead of ignored tests (CI). */
export const REQUIRE_ENV = "REQUIRE_REAL_ROOM";

/** Exit status of `sandbox.ts` when it cannot make a sandbox and one is required. */
export const NO_SANDBOX_EXIT = 3;

// Everything runs in one `sh -c` inside the new namespace: bring loopback up, add the veth pair
// (both ends inside), address one end. IPv6 is switched off so libwebrtc has nothing else to
// offer; where that sysctl is not writable the link-local addresses still stay inside.
const SETUP = [
  "set -e",
  'IP="$1"; shift',
  "$IP link set lo up",
  "$IP link add em0 type veth peer name em1",
  `$IP addr add ${SANDBOX_ADDRESS}/24 dev em0`,
  "$IP link set em0 up",
  "$IP link set em1 up",
  "for f in all default em0 em1; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6 2>/dev/null || true; done",
  `export ${SANDBOX_ENV}=${SANDBOX_ADDRESS}`,
  'exec "$@"',
].join("\n");

/**
 * Why this process is not inside a sandbox, or `undefined` when it is: the variable is set and
 * every IPv4 address on every interface is loopback or {@link SANDBOX_ADDRESS} (so nothing here
 * can reach another host, whatever a test does).
 */
export function sandboxProblem(): string | undefined {
  if (Deno.env.get(SANDBOX_ENV) !== SANDBOX_ADDRESS) {
    return "not running inside the test sandbox (run the tests with `deno task test`)";
  }
  const foreign = Deno.networkInterfaces().filter((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") && i.address !== SANDBOX_ADDRESS
  );
  if (foreign.length > 0) {
    return `the sandbox is not isolated: ${
      foreign.map((i) => `${i.name} has ${i.address}`).join(", ")
    }`;
  }
  if (!Deno.networkInterfaces().some((i) => i.address === SANDBOX_ADDRESS)) {
    return `${SANDBOX_ENV} is set but no interface holds ${SANDBOX_ADDRESS}`;
  }
  return undefined;
}

/** Path of an executable named `name` on PATH or in the sbin directories, if any. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs.filter(Boolean)) {
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** How to enter a sandbox on this machine: the command prefix, or why there is none. */
export type SandboxPlan = { prefix: string[] } | { problem: string };

/** Works out (and tries once) how to make a sandbox here. */
export async function planSandbox(): Promise<SandboxPlan> {
  if (Deno.build.os !== "linux") {
    return { problem: `network namespaces need Linux (this is ${Deno.build.os})` };
  }
  const unshare = findExecutable("unshare");
  const ip = findExecutable("ip");
  if (!unshare) return { problem: "`unshare` (util-linux) is not installed" };
  if (!ip) return { problem: "`ip` (iproute2) is not installed" };
  const root = Deno.uid() === 0;
  const prefix = [unshare, "--net", ...(root ? [] : ["--map-root-user"]), "--", "sh", "-c", SETUP];
  // One dry run: a kernel or policy that forbids (user) namespaces fails here, with its reason.
  const probe = await new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), "sandbox-probe", ip, "true"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!probe.success) {
    const why = new TextDecoder().decode(probe.stderr).trim().split("\n").pop() ||
      `exit ${probe.code}`;
    return {
      problem: `cannot create a network namespace${root ? "" : " without root"} (${why})`,
    };
  }
  return { prefix: [...prefix, "sandbox", ip] };
}

/**
 * Runs `cmd` inside a fresh sandbox (or as is, when already inside one) and resolves with its
 * exit code. Without a sandbox: `required` makes it an error (exit {@link NO_SANDBOX_EXIT});
 * otherwise one line says why and `cmd` runs as is.
 */
export async function runInSandbox(
  cmd: string[],
  options: { required?: boolean; env?: Record<string, string> } = {},
): Promise<number> {
  let full = cmd;
  if (sandboxProblem() !== undefined) {
    const plan = await planSandbox();
    if ("problem" in plan) {
      const what = "real-room tests and benchmarks need a private network namespace";
      if (options.required) {
        console.error(`error: ${what}, and ${plan.problem}`);
        return NO_SANDBOX_EXIT;
      }
      console.error(`note: ${what}, and ${plan.problem}; they will be skipped`);
    } else {
      full = [...plan.prefix, ...cmd];
    }
  }
  const child = new Deno.Command(full[0], {
    args: full.slice(1),
    env: options.env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The terminal sends Ctrl+C to the whole process group; a SIGTERM sent to this process alone
  // (CI cancelling a job) is passed on, so the tests can clean up after themselves.
  const forward = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  };
  Deno.addSignalListener("SIGTERM", forward);
  try {
    const status = await child.status;
    return status.signal ? 128 + (status.signal === "SIGINT" ? 2 : 15) : status.code;
  } finally {
    Deno.removeSignalListener("SIGTERM", forward);
  }
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run -A testing/real_room/sandbox.ts CMD [ARGS...]");
    Deno.exit(2);
  }
  Deno.exit(await runInSandbox(Deno.args, { required: Deno.env.get(REQUIRE_ENV) === "1" }));
}
