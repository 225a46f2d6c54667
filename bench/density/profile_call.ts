// Ad-hoc: one or N calls that talk for a while; per-process and per-thread CPU of the worker tree.
// deno run -A /tmp/work/profile_call.ts [N] [talkSeconds]   (inside the sandbox)
import { type Caller, CallerProcess } from "../../testing/real_room/caller/mod.ts";
import {
  BYE,
  CALLER_VOICE,
  HELLO,
  jsonLines,
  QUESTION,
  RealRoom,
} from "../../testing/real_room/real_room.ts";
import { descendants, pssKiB } from "../../bench/proc.ts";

const N = Number(Deno.args[0] ?? 1);
const TALK_S = Number(Deno.args[1] ?? 20);
const extraEnv = JSON.parse(Deno.env.get("PROFILE_ENV") ?? "{}");
const TICK = 100;
function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(
          /[0-9]+/g,
          "#",
        );
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
        out.set(comm, (out.get(comm) ?? 0) + f[11] + f[12]);
      } catch { /* gone */ }
    }
  } catch { /* gone */ }
  return out;
}
function cmd(pid: number) {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ");
  } catch {
    return "?";
  }
}
function role(pid: number, root: number) {
  if (pid === root) return "main";
  const c = cmd(pid);
  if (c.includes("inference_proc")) return "inference";
  if (c.includes("job_proc")) return "job";
  if (c.includes("host_main")) return "host";
  return "other:" + c.slice(0, 60);
}
function snapshot(root: number) {
  const m = new Map<number, { role: string; threads: Map<string, number>; pss: number }>();
  for (const pid of [root, ...descendants(root)]) {
    m.set(pid, { role: role(pid, root), threads: threads(pid), pss: pssKiB(pid) });
  }
  return m;
}
await using room = await RealRoom.start();
const script = Deno.env.get("PROFILE_SCRIPT");
const worker = await room.startWorker(["start"], { TURN_DETECTION: "vad", ...extraEnv }, {
  script,
  defaults: [
    "--port",
    "0",
    "--max-jobs",
    "64",
    ...(Deno.env.get("PROFILE_ARGS")?.split(" ").filter(Boolean) ?? []),
  ],
});
await new Promise((r) => setTimeout(r, 8000));
const idle = snapshot(worker.pid);
const idlePss = [...idle.values()].reduce((s, p) => s + p.pss, 0) / 1024;
console.log(
  `idle: ${
    [...idle.entries()].map(([p, v]) => `${v.role}:${p}:${(v.pss / 1024).toFixed(0)}MiB`).join(" ")
  } total PSS ${idlePss.toFixed(0)} MiB`,
);
const phones = await Promise.all(
  Array.from({ length: Math.ceil(N / 4) }, () => CallerProcess.start(CALLER_VOICE)),
);
const callers: Caller[] = await Promise.all(Array.from({ length: N }, async (_, i) => {
  const c = await phones[i % phones.length].join(room.server, room.freshRoom("prof"), {
    timeoutMs: 60_000,
  });
  await c.waitForAgent(90_000);
  return c;
}));
// settle: hello first
await Promise.all(callers.map(async (c) => {
  const s = await c.say(HELLO);
  await c.waitFor("heard", 60_000, (e) => e.startAt >= s.endAt, "hello reply");
}));
const before = snapshot(worker.pid);
const t0 = performance.now();
let peakPss = 0;
const pssTimer = setInterval(() => {
  peakPss = Math.max(
    peakPss,
    [worker.pid, ...descendants(worker.pid)].reduce((s, p) => s + pssKiB(p), 0) / 1024,
  );
}, 500);
let turns = 0;
await Promise.all(callers.map(async (c) => {
  while (performance.now() - t0 < TALK_S * 1000) {
    const s = await c.say(QUESTION);
    await c.waitFor("heard", 60_000, (e) => e.startAt >= s.endAt, "reply");
    turns++;
  }
}));
const dt = (performance.now() - t0) / 1000;
clearInterval(pssTimer);
const after = snapshot(worker.pid);
const rows: string[] = [];
let total = 0;
const byRole = new Map<string, number>();
for (const [pid, a] of after) {
  const b = before.get(pid);
  let sum = 0;
  const per: string[] = [];
  for (const [name, ticks] of a.threads) {
    const d = (ticks - (b?.threads.get(name) ?? 0)) / TICK / dt;
    sum += d;
    if (d >= 0.002) per.push(`${name}=${d.toFixed(3)}`);
  }
  total += sum;
  byRole.set(a.role, (byRole.get(a.role) ?? 0) + sum);
  rows.push(
    `${a.role} ${pid}${b ? "" : " (new)"}: ${sum.toFixed(3)} cores; PSS ${
      (a.pss / 1024).toFixed(0)
    } MiB; ${per.join(" ")}`,
  );
}
console.log(
  `talking ${dt.toFixed(1)} s, ${turns} turns, ${N} calls; load ${Deno.loadavg().join(" ")}`,
);
console.log(rows.join("\n"));
console.log(`by role: ${[...byRole].map(([r, c]) => `${r}=${c.toFixed(3)}`).join(" ")}`);
console.log(
  `tree: ${total.toFixed(3)} cores, ${(total / N).toFixed(3)} cores/call; peak PSS ${
    peakPss.toFixed(0)
  } MiB, (peak-idle)/N ${((peakPss - idlePss) / N).toFixed(0)} MiB/call`,
);
// How the agent's paced audio kept time (core/paced_audio.ts; the quiet stretches at LOG_LEVEL=debug).
const stretches = jsonLines(worker).filter((l) => typeof l.maxLateMs === "number");
const late = stretches.map((l) => l.maxLateMs as number).sort((a, b) => a - b);
console.log(
  `paced stretches: ${late.length}; most late ms: median ${late[late.length >> 1] ?? "-"}, ` +
    `max ${late.at(-1) ?? "-"}; over 60 ms: ${late.filter((x) => x > 60).length}`,
);
await Promise.all(callers.map(async (c) => {
  await c.say(BYE);
  await c.disconnected(60_000).catch(() => {});
}));
await Promise.all(phones.map((p) => p.stop()));
// The callers are hung up before their jobs finish (the agent hangs up first): let the jobs
// end, and their profiles be written, before the worker is stopped.
const profileDir = extraEnv.CPU_PROFILE_DIR;
const deadline = performance.now() + 20_000;
while (
  performance.now() < deadline &&
  (profileDir ? [...Deno.readDirSync(profileDir)].length < N : false)
) await new Promise((r) => setTimeout(r, 200));
await worker.stop();
