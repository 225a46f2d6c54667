import { assertEquals } from "@std/assert";
import process from "node:process";
import { fileUrl, installArgvNormalization, isCompiled, normalizeArgv } from "./argv.ts";

const EXE = "/opt/exit-message/exit-message";
const ROOT = "/opt/exit-message/.exit-message/abc123";
const JOB_MAIN =
  `${ROOT}/node_modules/.deno/@livekit+agents@1.9.0/node_modules/@livekit/agents/dist/ipc/job_proc_lazy_main.js`;
const INF_MAIN = JOB_MAIN.replace("job_proc", "inference_proc");
const AGENT = `${ROOT}/agent.ts`;

Deno.test("deno run: argv is left alone (Node's shape already)", () => {
  const argv = ["/usr/bin/deno", "/work/main/main.ts", "start"];
  assertEquals(
    normalizeArgv(argv, { compiled: false, mainModule: "file:///work/main/main.ts" }),
    argv,
  );
});

Deno.test("deno run fork child: argv is left alone", () => {
  const argv = ["/usr/bin/deno", JOB_MAIN, AGENT];
  assertEquals(normalizeArgv(argv, { compiled: false, mainModule: fileUrl(JOB_MAIN) }), argv);
});

Deno.test("compiled parent: [exe, exe, ...args] is left alone (commander reads from argv[2])", () => {
  const argv = [EXE, EXE, "start", "--log-level", "debug"];
  assertEquals(
    normalizeArgv(argv, { compiled: true, mainModule: fileUrl(`${ROOT}/main.ts`) }),
    argv,
  );
});

Deno.test("compiled job child: [exe, exe, module, agent] becomes [exe, module, agent]", () => {
  const out = normalizeArgv([EXE, EXE, JOB_MAIN, AGENT], {
    compiled: true,
    mainModule: fileUrl(JOB_MAIN),
  });
  assertEquals(out, [EXE, JOB_MAIN, AGENT]);
  assertEquals(out[2], AGENT, "agents-js reads the agent path from argv[2]");
});

Deno.test("compiled inference child: argv[2] becomes the runners' JSON", () => {
  const runners = JSON.stringify({
    "lk_end_of_utterance_multilingual": `file://${ROOT}/runner.js`,
  });
  const out = normalizeArgv([EXE, EXE, INF_MAIN, runners], {
    compiled: true,
    mainModule: fileUrl(INF_MAIN),
  });
  assertEquals(out[2], runners);
  assertEquals(JSON.parse(out[2]).lk_end_of_utterance_multilingual, `file://${ROOT}/runner.js`);
});

Deno.test("compiled child with execArgv before the module: Node strips it too", () => {
  const out = normalizeArgv([EXE, EXE, "--max-old-space-size=512", JOB_MAIN, AGENT], {
    compiled: true,
    mainModule: fileUrl(JOB_MAIN),
  });
  assertEquals(out, [EXE, JOB_MAIN, AGENT]);
});

Deno.test("compiled child given a relative module path resolves it against cwd", () => {
  const out = normalizeArgv([EXE, EXE, "dist/ipc/job_proc_lazy_main.js", AGENT], {
    compiled: true,
    mainModule: "file:///srv/agents/dist/ipc/job_proc_lazy_main.js",
    cwd: "/srv/agents",
  });
  assertEquals(out, [EXE, "dist/ipc/job_proc_lazy_main.js", AGENT]);
});

Deno.test("a percent-encoded main module URL still matches its path", () => {
  const weird = "/srv/my agents/#1/job_proc_lazy_main.js";
  const out = normalizeArgv([EXE, EXE, weird, AGENT], {
    compiled: true,
    mainModule: fileUrl(weird),
  });
  assertEquals(out, [EXE, weird, AGENT]);
});

Deno.test("compiled, but argv[1] is not the executable: left alone", () => {
  const argv = [EXE, "/somewhere/else", JOB_MAIN, AGENT];
  assertEquals(normalizeArgv(argv, { compiled: true, mainModule: fileUrl(JOB_MAIN) }), argv);
});

Deno.test("compiled, a user argument that is not the main module: left alone", () => {
  const argv = [EXE, EXE, "/tmp/other.js", AGENT];
  assertEquals(normalizeArgv(argv, { compiled: true, mainModule: fileUrl(JOB_MAIN) }), argv);
});

Deno.test("non-file main module (remote/npm) never matches", () => {
  const argv = [EXE, EXE, "npm:cowsay", "moo"];
  assertEquals(normalizeArgv(argv, { compiled: true, mainModule: "npm:cowsay" }), argv);
});

Deno.test("isCompiled follows Deno.build.standalone", () => {
  assertEquals(isCompiled({ build: { standalone: true }, execPath: "/usr/bin/deno" }), true);
  assertEquals(isCompiled({ build: { standalone: false }, execPath: EXE }), false);
});

Deno.test("isCompiled without Deno.build.standalone falls back to the executable's name", () => {
  assertEquals(isCompiled({ build: {}, execPath: "/usr/bin/deno" }), false);
  assertEquals(isCompiled({ build: {}, execPath: "C:\\deno\\deno.exe" }), false);
  assertEquals(isCompiled({ build: {}, execPath: EXE }), true);
});

Deno.test("isCompiled is false under deno test", () => {
  assertEquals(isCompiled(), false);
});

Deno.test("installArgvNormalization rewrites the array in place, once", () => {
  const argv = [EXE, EXE, JOB_MAIN, AGENT];
  const held = argv; // agents-js reads the same array object later
  const first = installArgvNormalization({ argv, compiled: true, mainModule: fileUrl(JOB_MAIN) });
  assertEquals(first.changed, true);
  assertEquals(held, [EXE, JOB_MAIN, AGENT]);
  const second = installArgvNormalization({ argv, compiled: true, mainModule: fileUrl(JOB_MAIN) });
  assertEquals(second.changed, false);
  assertEquals(held, [EXE, JOB_MAIN, AGENT]);
});

Deno.test("installArgvNormalization with defaults is a no-op under deno test", () => {
  const before = [...process.argv];
  assertEquals(installArgvNormalization().changed, false);
  assertEquals(process.argv, before);
});
