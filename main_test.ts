/**
 * Bad input at the command line: one clear line, exit status 2, no stack
 * trace. Each case runs the real `main.ts` as a child process in an empty
 * working directory.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { USAGE_EXIT_CODE } from "./core/errors.ts";
import { runMain } from "./testing/process.ts";

const KEYS = {
  LIVEKIT_API_KEY: "devkey",
  LIVEKIT_API_SECRET: "devsecret-devsecret-devsecret-0123",
};

function assertOneLineError(result: { code: number; stderr: string }, ...mentions: string[]) {
  assertEquals(result.code, USAGE_EXIT_CODE, result.stderr);
  const lines = result.stderr.trim().split("\n");
  assertEquals(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  for (const text of mentions) assertStringIncludes(lines[0], text);
  assertEquals(/\bat .+:\d+:\d+/.test(result.stderr), false, "a stack trace reached the user");
}

Deno.test("console --connect-addr without LIVEKIT_API_KEY names the variable and .env.example", async () => {
  const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"]);
  assertOneLineError(result, "LIVEKIT_API_KEY", ".env.example");
});

Deno.test("console --connect-addr without LIVEKIT_API_SECRET names the variable", async () => {
  const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"], {
    env: { LIVEKIT_API_KEY: "devkey" },
  });
  assertOneLineError(result, "LIVEKIT_API_SECRET");
});

Deno.test("a malformed --connect-addr says what form it takes", async () => {
  for (const addr of ["nope", "127.0.0.1:", ":80", "127.0.0.1:99999", "host:port"]) {
    const result = await runMain(["console", "--connect-addr", addr], { env: KEYS });
    assertOneLineError(result, "--connect-addr", addr, "HOST:PORT");
  }
});

Deno.test("an unreadable .env is named, with what to do", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${cwd}/.env`); // readable by no one, even root: it is a directory
    const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"], { cwd, env: KEYS });
    assertOneLineError(result, ".env");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test(".env is read from the working directory", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${cwd}/.env`, "LIVEKIT_API_KEY=fromfile\nGOODBYE_TIMEOUT_MS=oops\n");
    const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"], { cwd });
    assertOneLineError(result, "GOODBYE_TIMEOUT_MS", "oops");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("the environment wins over .env", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${cwd}/.env`, "LIVEKIT_API_KEY=fromfile\nGOODBYE_TIMEOUT_MS=oops\n");
    const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"], {
      cwd,
      env: { GOODBYE_TIMEOUT_MS: "500" },
    });
    // The file's bad timeout lost to the environment; the file's key was used, so
    // the only thing left missing is the secret.
    assertOneLineError(result, "LIVEKIT_API_SECRET");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

for (const command of ["start", "dev"]) {
  Deno.test(`${command} without LIVEKIT_URL names the variable`, async () => {
    const result = await runMain([command], { env: KEYS });
    assertOneLineError(result, "LIVEKIT_URL");
  });

  Deno.test(`${command} with a malformed LIVEKIT_URL says what form it takes`, async () => {
    const result = await runMain([command], { env: { ...KEYS, LIVEKIT_URL: "not a url" } });
    assertOneLineError(result, "LIVEKIT_URL", "not a url");
  });

  Deno.test(`${command} without LIVEKIT_API_KEY names the variable`, async () => {
    const result = await runMain([command], { env: { LIVEKIT_URL: "ws://127.0.0.1:9" } });
    assertOneLineError(result, "LIVEKIT_API_KEY");
  });
}

Deno.test("start with credentials in LIVEKIT_URL: refused in one line that does not print them", async () => {
  const secret = "do-not-print-me-0123";
  for (
    const url of [
      `wss://devkey:${secret}@lk.example.com`,
      `wss://lk.example.com?access_token=${secret}`,
    ]
  ) {
    const result = await runMain(["start"], { env: { ...KEYS, LIVEKIT_URL: url } });
    assertOneLineError(result, "LIVEKIT_URL", "***");
    assertEquals(result.stderr.includes(secret), false, result.stderr);
  }
});

Deno.test("a GOODBYE_TIMEOUT_MS the close bound cannot honour is refused at start-up", async () => {
  const result = await runMain(["console", "--connect-addr", "127.0.0.1:9"], {
    env: { ...KEYS, GOODBYE_TIMEOUT_MS: "20000" },
  });
  assertOneLineError(result, "GOODBYE_TIMEOUT_MS", "10500");
});

Deno.test("main.ts --help is this project's help, exit 0: its commands, no agents-js 'deprecated' dev", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const result = await runMain([flag]);
    assertEquals(result.code, 0, result.stderr);
    for (const command of ["console", "start", "dev", "connect"]) {
      assertStringIncludes(result.stdout, `\n  ${command} `);
    }
    assertStringIncludes(result.stdout, "LIVEKIT_API_KEY");
    assertEquals(/deprecated|lk agent dev/i.test(result.stdout + result.stderr), false);
  }
});

Deno.test("no command prints the help on stderr, exit 2; an unknown command is one line, exit 2", async () => {
  const none = await runMain([]);
  assertEquals(none.code, USAGE_EXIT_CODE);
  assertStringIncludes(none.stderr, "Commands:");
  assertOneLineError(
    await runMain(["strat"]),
    'unknown command "strat"; did you mean start?',
    "--help",
  );
});

Deno.test("start, dev and connect --help: exit 0, their own options with their variables", async () => {
  // A broken .env must not stand between a newcomer and the help.
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${cwd}/.env`);
    for (const command of ["start", "dev", "connect"]) {
      const result = await runMain([command, "--help"], { cwd });
      assertEquals(result.code, 0, `${command}: ${result.stderr}`);
      assertEquals(result.stderr, "");
      assertStringIncludes(result.stdout, `Usage: deno task ${command}`);
      for (
        const [flag, variable] of [["--url", "LIVEKIT_URL"], ["--drain-timeout", "DRAIN_TIMEOUT"]]
      ) {
        assertStringIncludes(result.stdout, `${flag} VALUE  (env ${variable})`);
      }
      assertStringIncludes(result.stdout, "GOODBYE_TIMEOUT_MS");
      assertEquals(result.stdout.includes("--room NAME"), command === "connect", command);
      // Each command its own defaults, not the three side by side.
      const port = command === "start" ? "8081" : "0";
      assertStringIncludes(result.stdout, `HTTP port; 0 = any free port\n      default: ${port}\n`);
      assertEquals(/start: |dev\/connect: /.test(result.stdout), false, result.stdout);
      // A variable an option names is not listed again under "Other environment".
      const others = result.stdout.split("Other environment")[1].split("Exit status")[0];
      for (const v of ["LIVEKIT_URL", "LOG_LEVEL", "LIVEKIT_API_KEY"]) {
        assertEquals(others.includes(v), false, `${command}: ${v} repeated`);
      }
      assertEquals(/unknown option|deprecated/i.test(result.stdout), false, command);
    }
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("console --help: exit 0, its options and the environment it reads, even with --connect-addr", async () => {
  for (const args of [["console", "--help"], ["console", "--connect-addr", "127.0.0.1:9", "-h"]]) {
    const result = await runMain(args);
    assertEquals(result.code, 0, result.stderr);
    for (const s of ["--offline", "--list-devices", "--record DIR", "PORTAUDIO_LIB", "STT_MODEL"]) {
      assertStringIncludes(result.stdout, s);
    }
    assertStringIncludes(result.stdout, "warn, error, fatal");
    assertStringIncludes(result.stdout, "\nExit status: 0 when the session ended");
    for (const code of ["1 when", "2 for", "3 when", "130 after"]) {
      assertStringIncludes(result.stdout, code);
    }
  }
});
