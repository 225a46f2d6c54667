import { assertEquals, assertThrows } from "@std/assert";
import { UserError } from "../core/errors.ts";
import type { AgentServer } from "@livekit/agents";
import { parseWorkerOptions } from "./options.ts";
import { serverOptions } from "./mod.ts";

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
const creds = { LIVEKIT_API_KEY: "devkey", LIVEKIT_API_SECRET: "s".repeat(32) };

Deno.test('start: production defaults, URL normalised for agents-js\'s `url + "agent"`', () => {
  const o = parseWorkerOptions(["start"], env({ ...creds, LIVEKIT_URL: "https://lk.example.com" }));
  assertEquals(o.production, true);
  assertEquals(o.url, "wss://lk.example.com/");
  assertEquals(o.port, 8081);
  assertEquals(o.metrics, true);
  assertEquals(o.loadThreshold, 0.7);
  assertEquals(o.drainTimeoutMs, 1_800_000);
  assertEquals(o.shutdownGraceMs, 30_000);
  assertEquals(o.maxRetry, 10);
  assertEquals(o.logLevel, "info");
  assertEquals(o.agentName, "");
  assertEquals(
    parseWorkerOptions(["start"], env({ ...creds, LIVEKIT_URL: "ws://h:7880/prefix" })).url,
    "ws://h:7880/prefix/",
  );
});

Deno.test("flags win over variables; variables over defaults", () => {
  const o = parseWorkerOptions(
    [
      "start",
      "--agent-name=flag-name",
      "--port",
      "0",
      "--num-idle-processes",
      "0",
      "--drain-timeout",
      "2.5",
      "--log-level",
      "WARN",
      "--metrics",
      "off",
    ],
    env({
      ...creds,
      LIVEKIT_URL: "ws://h",
      LIVEKIT_AGENT_NAME: "env-name",
      HEALTH_PORT: "9000",
      LOAD_THRESHOLD: "0.5",
      MAX_RETRY: "3",
      SHUTDOWN_GRACE: "5",
      METRICS: "on",
    }),
  );
  assertEquals(o.metrics, false);
  assertEquals(
    parseWorkerOptions(["start"], env({ ...creds, LIVEKIT_URL: "ws://h", METRICS: "OFF" })).metrics,
    false,
  );
  assertEquals(o.agentName, "flag-name");
  assertEquals(o.port, 0);
  assertEquals(o.numIdleProcesses, 0);
  assertEquals(o.drainTimeoutMs, 2500);
  assertEquals(o.logLevel, "warn");
  assertEquals(o.loadThreshold, 0.5);
  assertEquals(o.maxRetry, 3);
  assertEquals(o.shutdownGraceMs, 5000);
});

Deno.test("every worker mode needs a URL: a local server is a choice, never a silent default", () => {
  const local = { ...creds, LIVEKIT_URL: "ws://localhost:7880" };
  const dev = parseWorkerOptions(["dev"], env(local));
  assertEquals([dev.url, dev.production], ["ws://localhost:7880/", false]);
  assertEquals([dev.numIdleProcesses, dev.loadThreshold, dev.logLevel], [0, Infinity, "debug"]);
  const c = parseWorkerOptions(
    ["connect", "--room", "r1", "--participant-identity", "u"],
    env(local),
  );
  assertEquals([c.room, c.participantIdentity], ["r1", "u"]);
  for (const command of [["start"], ["dev"], ["connect", "--room", "r1"]]) {
    assertThrows(
      () => parseWorkerOptions(command, env(creds)),
      UserError,
      "LIVEKIT_URL is not set",
    );
  }
});

Deno.test("malformed values name the variable or flag", () => {
  const base = { ...creds, LIVEKIT_URL: "ws://h" };
  const cases: [string[], Record<string, string>, string][] = [
    [["start"], { ...base, LIVEKIT_URL: "localhost:7880" }, 'LIVEKIT_URL="localhost:7880"'],
    [["start", "--url", "ftp://h"], base, '--url="ftp://h"'],
    [["start"], { ...base, LIVEKIT_URL: "wss://k:s@h" }, "must not carry credentials"],
    [["start"], { ...base, LIVEKIT_API_KEY: "" }, "LIVEKIT_API_KEY is not set"],
    [["start", "--api-secret", "a b"], base, "--api-secret contains spaces or quotes"],
    [["start"], { ...base, HEALTH_PORT: "70000" }, 'HEALTH_PORT="70000"'],
    [["start"], { ...base, NUM_IDLE_PROCESSES: "-1" }, 'NUM_IDLE_PROCESSES="-1"'],
    [["start"], { ...base, LOAD_THRESHOLD: "0" }, 'LOAD_THRESHOLD="0"'],
    [["start"], { ...base, DRAIN_TIMEOUT: "1h" }, 'DRAIN_TIMEOUT="1h"'],
    [["start"], { ...base, SHUTDOWN_GRACE: "0" }, "SHUTDOWN_GRACE must be at least 1 second"],
    [["start"], { ...base, LOG_LEVEL: "verbose" }, 'LOG_LEVEL="verbose" is not a log level'],
    [["start"], { ...base, METRICS: "maybe" }, 'METRICS="maybe" is not valid; use on or off'],
    [["start", "--room", "r"], base, "--room only applies to connect"],
    [["connect"], base, "connect needs --room NAME"],
    [["start", "extra"], base, "unexpected argument extra (see deno task start --help)"],
    [["dev", "--url"], base, "--url needs a value (see deno task dev --help)"],
    [
      ["start", "--simulation=yes"],
      base,
      "--simulation takes no value (see deno task start --help)",
    ],
    [["connect", "--rom", "r"], base, "unknown option --rom; did you mean --room?"],
    [["console"], base, 'unknown worker command "console"'],
  ];
  for (const [argv, vars, msg] of cases) {
    assertThrows(() => parseWorkerOptions(argv, env(vars)), UserError, msg);
  }
});

Deno.test("MAX_JOBS: load is active calls / MAX_JOBS, full at MAX_JOBS; bad values are one line", async () => {
  const o = parseWorkerOptions(
    ["start", "--max-jobs", "4"],
    env({ ...creds, LIVEKIT_URL: "ws://h" }),
  );
  assertEquals(o.maxJobs, 4);
  const so = serverOptions(o, "/agent.ts");
  assertEquals(so.loadThreshold, 1);
  const withJobs = (n: number) =>
    ({
      activeJobs: Array.from({ length: n }, (_, i) => ({ job: { id: `AJ_${n}_${i}` } })),
    }) as unknown as AgentServer;
  assertEquals(await so.loadFunc(withJobs(0)), 0);
  assertEquals(await so.loadFunc(withJobs(2)), 0.5);
  assertEquals(await so.loadFunc(withJobs(4)), 1);
  assertEquals(await so.loadFunc(withJobs(9)), 1);
  const unset = parseWorkerOptions(["start"], env({ ...creds, LIVEKIT_URL: "ws://h" }));
  assertEquals(unset.maxJobs, undefined);
  assertEquals(serverOptions(unset, "/agent.ts").loadThreshold, 0.7);
  for (const bad of ["0", "-1", "two", "1.5"]) {
    assertThrows(
      () => parseWorkerOptions(["start"], env({ ...creds, LIVEKIT_URL: "ws://h", MAX_JOBS: bad })),
      UserError,
      "MAX_JOBS",
    );
  }
});

Deno.test("a LIVEKIT_URL or --url carrying credentials is refused without echoing the secret", () => {
  const secret = "sup3r-s3cret";
  for (
    const [args, url] of [
      [["start"], `wss://devkey:${secret}@lk.example.com`],
      [["start"], `wss://lk.example.com/?access_token=${secret}`],
      [["dev"], `devkey:${secret}@lk.example.com`], // no scheme: refused as not a URL
    ] as const
  ) {
    const error = assertThrows(
      () => parseWorkerOptions([...args], env({ ...creds, LIVEKIT_URL: url })),
      UserError,
    );
    assertEquals(error.message.includes(secret), false, error.message);
    assertEquals(error.message.includes("***"), true, error.message);
  }
  const viaFlag = assertThrows(
    () => parseWorkerOptions(["start", `--url=wss://k:${secret}@h`], env(creds)),
    UserError,
  );
  assertEquals(viaFlag.message.includes(secret), false, viaFlag.message);
});

Deno.test("an empty --api-key= or --api-secret= is refused, not passed on to override the environment", () => {
  const base = { ...creds, LIVEKIT_URL: "ws://h" };
  for (const flag of ["--api-key", "--api-secret"]) {
    for (const argv of [["start", `${flag}=`], ["start", flag, ""], ["dev", `${flag}=  `]]) {
      assertThrows(
        () => parseWorkerOptions(argv, env(base)),
        UserError,
        `${flag} is empty`,
      );
    }
  }
});

Deno.test("--agent-name= (empty) means automatic dispatch even when LIVEKIT_AGENT_NAME is set", async () => {
  const { serverOptions } = await import("./mod.ts");
  const vars = { ...creds, LIVEKIT_URL: "ws://h", LIVEKIT_AGENT_NAME: "env-name" };
  // agents-js's ServerOptions reads LIVEKIT_AGENT_NAME from the process environment itself.
  const saved = Deno.env.get("LIVEKIT_AGENT_NAME");
  Deno.env.set("LIVEKIT_AGENT_NAME", "env-name");
  try {
    const o = parseWorkerOptions(["start", "--agent-name="], env(vars));
    assertEquals([o.agentName, o.agentNameFromEnv], ["", false]);
    const so = serverOptions(o, "/agent.ts");
    assertEquals([so.agentName, so.agentNameIsEnv], ["", false]);
    // Without the flag the variable still applies, and is reported as coming from it.
    const fromEnv = serverOptions(parseWorkerOptions(["start"], env(vars)), "/agent.ts");
    assertEquals([fromEnv.agentName, fromEnv.agentNameIsEnv], ["env-name", true]);
  } finally {
    if (saved === undefined) Deno.env.delete("LIVEKIT_AGENT_NAME");
    else Deno.env.set("LIVEKIT_AGENT_NAME", saved);
  }
});
