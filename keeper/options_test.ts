import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { UserError } from "../core/errors.ts";
import { KEEPER_ANSWER_TIMEOUT_MS, KEEPER_JOIN_TIMEOUT_MS } from "../core/bounds.ts";
import { KEEPER_OPTION_SPECS, keeperHelp, parseKeeperOptions } from "./options.ts";
import { apiUrl } from "./endpoint.ts";

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
const creds = { LIVEKIT_API_KEY: "devkey", LIVEKIT_API_SECRET: "s".repeat(32) };

Deno.test("keeper options: defaults", () => {
  const o = parseKeeperOptions([], env({ ...creds, LIVEKIT_URL: "https://lk.example.com" }));
  assertEquals(o.url, "wss://lk.example.com/");
  assertEquals(o.port, 8090);
  assertEquals(o.host, "0.0.0.0");
  assertEquals(o.agentName, "");
  assertEquals(o.joinTimeoutMs, KEEPER_JOIN_TIMEOUT_MS);
  assertEquals(o.answerTimeoutMs, KEEPER_ANSWER_TIMEOUT_MS);
  assertEquals(o.logLevel, "info");
});

Deno.test("keeper options: flags win over variables", () => {
  const o = parseKeeperOptions(
    ["--port", "0", "--join-timeout", "2.5", "--answer-timeout", "0", "--agent-name", "a"],
    env({
      ...creds,
      LIVEKIT_URL: "ws://h:7880",
      KEEPER_PORT: "9000",
      KEEPER_HOST: "127.0.0.1",
      KEEPER_JOIN_TIMEOUT: "20",
      LIVEKIT_AGENT_NAME: "b",
      LOG_LEVEL: "WARN",
    }),
  );
  assertEquals(o.port, 0);
  assertEquals(o.host, "127.0.0.1");
  assertEquals(o.joinTimeoutMs, 2_500);
  assertEquals(o.answerTimeoutMs, 0);
  assertEquals(o.agentName, "a");
  assertEquals(o.logLevel, "warn");
});

Deno.test("keeper options: mistakes are one line naming the flag or variable", () => {
  const cases: [string[], Record<string, string>, string][] = [
    [[], { ...creds }, "LIVEKIT_URL is not set"],
    [[], { LIVEKIT_URL: "ws://h" }, "LIVEKIT_API_KEY is not set"],
    [["--port", "x"], { ...creds, LIVEKIT_URL: "ws://h" }, '--port="x" is not valid'],
    [["--join-timeout", "0"], { ...creds, LIVEKIT_URL: "ws://h" }, "--join-timeout must be"],
    [[], { ...creds, LIVEKIT_URL: "ws://h", KEEPER_ANSWER_TIMEOUT: "-1" }, "KEEPER_ANSWER_TIMEOUT"],
    [["--room", "r"], { ...creds, LIVEKIT_URL: "ws://h" }, "--room"],
  ];
  for (const [argv, vars, expected] of cases) {
    const error = assertThrows(() => parseKeeperOptions(argv, env(vars)), UserError);
    assertStringIncludes(error.message, expected);
    assertEquals(error.message.includes("\n"), false);
  }
});

Deno.test("keeper help names every option and its variable", () => {
  const help = keeperHelp();
  for (const spec of KEEPER_OPTION_SPECS) {
    assertStringIncludes(help, spec.flag);
    if (spec.env) assertStringIncludes(help, spec.env);
  }
});

Deno.test("keeper: the server API URL of a LiveKit URL", () => {
  assertEquals(apiUrl("wss://lk.example.com/"), "https://lk.example.com");
  assertEquals(apiUrl("ws://127.0.0.1:7880/"), "http://127.0.0.1:7880");
  assertEquals(apiUrl("ws://h/prefix/"), "http://h/prefix");
});
