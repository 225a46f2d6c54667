/**
 * End-to-end failure paths of the console, and the agent's half used alone
 * (`main.ts console --connect-addr`) as `lk console` would use it.
 */
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import { AgentSession as pb } from "@livekit/protocol";
import { offlineBrain, startGateway } from "../simulation/mod.ts";
import { BrokerSession, listenBroker, WIRE_SAMPLE_RATE } from "./broker.ts";
import { isAlive } from "../core/process_tree.ts";
import { agentCommand, AgentProcess } from "./agent_process.ts";
import { Playout } from "./playout.ts";
import { agentPid, ConsoleProc, MAIN, settled } from "./testdata/harness.ts";
import { encodeWav } from "./wav.ts";
import { bounded, until } from "../testing/wait.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const HARNESS = new URL("./testdata/run_console.ts", import.meta.url).pathname;

async function finish(proc: ConsoleProc) {
  if ((await settled([proc.child.pid], 0)).length) await proc.kill();
  else {
    await proc.status;
    await proc.endInput();
  }
}

/** Runs a console that must fail fast; returns its status and output. */
async function failing(args: string[], env: Record<string, string> = {}, ms = 20_000) {
  const proc = new ConsoleProc(args, env);
  try {
    const st = await proc.exit(ms);
    return { st, out: proc.out, err: proc.err, proc };
  } finally {
    await finish(proc);
  }
}

Deno.test({
  name: "e2e: an agent that never connects: bounded wait, its last log lines, exit 1, nothing left",
  ...opts,
  async fn() {
    const t0 = performance.now();
    const { st, err, proc } = await failing([
      HARNESS,
      "./agent_hang.ts",
      "--offline",
      "--text",
      "--connect-timeout",
      "2",
    ]);
    assertEquals(st.code, 1);
    assertMatch(err, /^error: the agent did not connect within 2 s; its last log lines:$/m);
    assertMatch(err, /│ \[00:00:00\.001\] WARN \(1\): pretending to wait/);
    // 2 s bound + SIGINT ignored by the fake agent + SIGKILL after 3 s.
    assert(performance.now() - t0 < 12_000);
    assertGreater(proc.pids.size, 0);
    assertEquals(await settled(proc.leftovers()), []);
  },
});

Deno.test({
  name: "e2e: an agent that crashes at start: its exit code and last log lines, exit 1",
  ...opts,
  async fn() {
    const { st, err, proc } = await failing([HARNESS, "./agent_crash.ts", "--offline", "--text"]);
    assertEquals(st.code, 1);
    assertMatch(
      err,
      /^error: the agent exited \(exit code 3\) before connecting; its last log lines:$/m,
    );
    assertMatch(err, /ERROR \(1\): fake agent cannot load its model/);
    assertEquals(await settled(proc.leftovers()), []);
  },
});

Deno.test({
  name:
    "e2e: an agent that exits while its grandchild holds its pipes: the console ends the group by PID and exits",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    const pidFile = `${dir}/grandchild.pid`;
    const proc = new ConsoleProc([HARNESS, "./agent_leaves_child.ts", "--offline", "--text"], {
      FAKE_AGENT_CHILD_PID_FILE: pidFile,
    });
    let grandchild: number | undefined;
    try {
      grandchild = await until(
        () => Deno.readTextFile(pidFile).then(Number, () => undefined),
        30_000,
        "the fake agent's grandchild",
      );
      // The console's own bounds: the agent's exit grace (8 s) and the pipe drain (2 s).
      const st = await proc.exit(20_000);
      assertEquals(st.code, 0, proc.err);
      assertEquals(await settled([grandchild]), [], "the agent's grandchild outlived the console");
    } finally {
      if (grandchild !== undefined && isAlive(grandchild)) Deno.kill(grandchild, "SIGKILL");
      await finish(proc);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: bad input is one line each, exit 2, and nothing is started",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const floatWav = encodeWav(new Int16Array(100), 16000);
      new DataView(floatWav.buffer).setUint16(20, 3, true); // IEEE float
      await Deno.writeFile(`${dir}/float.wav`, floatWav);
      await Deno.writeTextFile(`${dir}/notes.wav`, "not audio at all");
      await Deno.writeFile(`${dir}/cut.wav`, encodeWav(new Int16Array(100), 16000).subarray(0, 30));
      await Deno.writeFile(`${dir}/empty.wav`, encodeWav(new Int16Array(0), 16000));
      const port = (taken.addr as Deno.NetAddr).port;
      const cases: [string[], Record<string, string>, RegExp][] = [
        [
          ["--offline", "--input-wav", `${dir}/missing.wav`],
          {},
          /^error: .*missing\.wav: no such file$/,
        ],
        [
          ["--offline", "--input-wav", `${dir}/float.wav`],
          {},
          /^error: .*float\.wav is not PCM \(format code 3\); convert it to 16-bit PCM$/,
        ],
        [
          ["--offline", "--input-wav", `${dir}/notes.wav`],
          {},
          /^error: .*notes\.wav is not a WAV file/,
        ],
        [
          ["--offline", "--input-wav", `${dir}/cut.wav`],
          {},
          /^error: .*cut\.wav is truncated \(its fmt chunk is cut short\); re-export it$/,
        ],
        [
          ["--offline", "--input-wav", `${dir}/empty.wav`],
          {},
          /^error: .*empty\.wav holds no audio \(its data chunk is empty\)$/,
        ],
        [
          ["--offline", "--text", "--log-file", `${dir}/no/such/folder/agent.log`],
          {},
          /^error: --log-file .*agent\.log cannot be written \(its folder does not exist\); pick another path$/,
        ],
        [
          ["--offline", "--text", "--log-file", dir],
          {},
          /^error: --log-file .* cannot be written \(it is a directory\); pick another path$/,
        ],
        [
          ["--list-devices"],
          { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" },
          /^error: cannot list audio devices: PortAudio is not installed \(.+\)$/,
        ],
        [
          ["--offline", "--input-device", "USB"],
          { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" },
          /^error: --input-device cannot be used: PortAudio is not installed \(.+\)$/,
        ],
        [
          ["--offline", "--text", "--output-device", "2"],
          { PORTAUDIO_LIB: "/nonexistent/libportaudio.so" },
          /^error: --output-device cannot be used: PortAudio is not installed \(.+\)$/,
        ],
        [
          ["--offline", "--text", "--record", `${dir}/notes.wav`],
          {},
          /^error: --record .*notes\.wav cannot be used \(.+\); pick another folder$/,
        ],
        [
          ["--offline", "--text", "--port", String(port)],
          {},
          new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use`),
        ],
        [
          ["--text"],
          { LIVEKIT_API_KEY: "", LIVEKIT_API_SECRET: "" },
          /^error: LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set; .*deno task console --offline/,
        ],
        [
          ["--offline", "--bogus"],
          {},
          /^error: unknown option --bogus \(see deno task console --help\)$/,
        ],
        [
          ["--ofline"],
          {},
          /^error: unknown option --ofline; did you mean --offline\? \(see deno task console --help\)$/,
        ],
        [
          ["--offline", "--text", "--input-wav", "x.wav"],
          {},
          /^error: --text and --input-wav exclude each other/,
        ],
      ];
      for (const [args, env, re] of cases) {
        const { st, err, proc } = await failing([MAIN, "console", ...args], env);
        const lines = err.trim().split("\n");
        assertEquals(st.code, 2, `${args.join(" ")}: ${err}`);
        assertEquals(lines.length, 1, `${args.join(" ")}: more than one line:\n${err}`);
        assertMatch(lines[0], re);
        assertEquals(proc.pids.size, 0, `${args.join(" ")} started a process`);
      }
    } finally {
      taken.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: --help prints usage and exits 0",
  ...opts,
  async fn() {
    const { st, out } = await failing([MAIN, "console", "--help"]);
    assertEquals(st.code, 0);
    assertMatch(out, /^Usage: deno task console \[options\]/);
    assertMatch(out, /--connect-addr HOST:PORT/);
  },
});

/** The agent's half as `lk console` runs it: a real agent process dialing a plain broker. */
interface AgentHalf {
  agent: AgentProcess;
  broker: BrokerSession;
  gw: Awaited<ReturnType<typeof startGateway>>;
  /** Every event the agent pushed. */
  events: pb.AgentSessionEvent[];
  /** Every line the agent logged. */
  lines: string[];
}

/**
 * Starts the gateway stand-in, a broker listener and `main.ts console --connect-addr`, waits
 * (bounded) for the agent to dial in, runs `body`, and tears everything down by PID.
 */
async function withAgentHalf(
  body: (half: AgentHalf) => Promise<void>,
  spawn: { extraArgs?: string[]; cwd?: string } = {},
): Promise<void> {
  const gw = await startGateway({ llm: offlineBrain(), apiKey: "k", apiSecret: "s" });
  const listener = listenBroker(0);
  const port = (listener.addr as Deno.NetAddr).port;
  const { cmd, args } = agentCommand(MAIN, `127.0.0.1:${port}`, spawn.extraArgs);
  const lines: string[] = [];
  const agent = AgentProcess.spawn({
    cmd,
    args,
    cwd: spawn.cwd,
    env: { LIVEKIT_INFERENCE_URL: gw.url, LIVEKIT_API_KEY: "k", LIVEKIT_API_SECRET: "s" },
    onLine: (line) => lines.push(line),
  });
  const playout = new Playout({ sampleRate: WIRE_SAMPLE_RATE });
  let broker: BrokerSession | undefined;
  try {
    const conn = await bounded(listener.accept(), 30_000, () => "the agent never dialed in");
    const events: pb.AgentSessionEvent[] = [];
    broker = new BrokerSession(conn, playout, { onEvent: (e) => events.push(e) });
    // Text in, audio out: replies are synthesized and their flushes acknowledged.
    await broker.updateIo({ audioIn: false, audioOut: true });
    await body({ agent, broker, gw, events, lines });
  } finally {
    await broker?.close();
    try {
      listener.close();
    } catch {
      // closed
    }
    await agent.stop({ killAfterMs: 2000 });
    await playout.close();
    await gw.close();
    assertEquals(isAlive(agent.pid), false);
  }
}

Deno.test({
  name: "lk-compat: main.ts console --connect-addr is the agent's half, driven by a plain broker",
  ...opts,
  fn: () =>
    withAgentHalf(async ({ agent, broker, gw, events }) => {
      const resp = await broker.runInput("hello", 30_000);
      const run = resp.response.case === "runInput" ? resp.response.value : undefined;
      if (!run) throw new Error(`unexpected response ${resp.response.case}`);
      const said = run.items.flatMap((i) =>
        i.item.case === "message" ? i.item.value.content.map((c) => String(c.payload.value)) : []
      );
      assertEquals(said, ["Hello! Nice to hear you. What would you like to talk about?"]);
      assertGreater(broker.stats.acks, 0);
      // lk's shutdown: SIGINT; the agent says goodbye (its flush is acked), closes, exits.
      agent.signal("SIGINT");
      await broker.closed;
      assert(await agent.waitExit(15_000), "the agent did not exit after SIGINT");
      assertEquals((await agent.status).code, 0);
      assert(gw.synthesized().includes("Goodbye!"), gw.synthesized().join(" | "));
      const states = events.flatMap((e) =>
        e.event.case === "agentStateChanged" ? [e.event.value.newState] : []
      );
      assert(states.includes(pb.AgentState.AS_SPEAKING));
    }),
});

Deno.test({
  name:
    "lk-compat: lk agent console's own argv (--connect-addr ADDR --record): the agent's half records its session",
  ...opts,
  async fn() {
    const cwd = await Deno.makeTempDir();
    try {
      await withAgentHalf(async ({ agent, broker }) => {
        await broker.runInput("hello", 30_000);
        agent.signal("SIGINT");
        await broker.closed;
        assert(await agent.waitExit(15_000), "the agent did not exit after SIGINT");
        assertEquals((await agent.status).code, 0);
      }, { extraArgs: ["--record"], cwd });
      const sessions = [...Deno.readDirSync(`${cwd}/console-recordings`)];
      assertEquals(sessions.length, 1);
      const files = [...Deno.readDirSync(`${cwd}/console-recordings/${sessions[0].name}`)];
      assertGreater(files.length, 0, "the session folder is empty");
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "e2e: a console killed by SIGKILL does not leave its agent behind: the agent ends by itself",
  ...opts,
  async fn() {
    const proc = new ConsoleProc([MAIN, "console", "--offline", "--text"], {
      GOODBYE_TIMEOUT_MS: "2000",
    });
    try {
      await proc.waitFor(/agent connected/, 60_000);
      const agent = agentPid(proc);
      assert(agent !== undefined, "no agent process found under the console");
      // SIGKILL cannot be caught: the console gets no chance to stop its child.
      proc.signal("SIGKILL");
      await proc.status;
      // The agent reads EOF on its stdin pipe, ends its session (the goodbye bounded
      // by GOODBYE_TIMEOUT_MS, nobody acks it) and exits.
      assertEquals(await settled([agent!], 30_000), [], `agent ${agent} outlived its console`);
      assertEquals(await settled(proc.leftovers()), []);
    } finally {
      await finish(proc);
    }
  },
});

Deno.test({
  name: "e2e: the agent's half ends its session gracefully when its console's pipe closes",
  ...opts,
  fn: () =>
    withAgentHalf(async ({ agent, broker, gw, lines }) => {
      await broker.runInput("hello", 30_000);
      // What a SIGKILLed console leaves: the pipe closes, the broker stays up here.
      await agent.closeParentPipe();
      await bounded(
        broker.closed,
        15_000,
        () => "the agent kept its session after its pipe closed",
      );
      assert(await agent.waitExit(15_000), "the agent did not end after its pipe closed");
      assertEquals((await agent.status).code, 0);
      await agent.close(); // every output line read
      assertMatch(lines.join("\n"), /the console that started this agent is gone/);
      assert(gw.synthesized().includes("Goodbye!"), gw.synthesized().join(" | "));
    }),
});
