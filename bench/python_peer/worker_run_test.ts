import { assertAlmostEquals, assertEquals } from "@std/assert";
import { parseLogLine } from "./launcher.ts";
import { logTimeMs, processInitTimes, pythonRoleOf } from "./worker_run.ts";

const line = (o: Record<string, unknown>) => parseLogLine(JSON.stringify(o))!;

Deno.test("logTimeMs: ISO timestamp with microseconds, to fractional ms", () => {
  const t = logTimeMs(line({ message: "x", timestamp: "2026-11-29T18:10:43.496097+00:00" }));
  assertAlmostEquals(t!, Date.parse("2026-11-29T18:10:43.496Z") + 0.097, 1e-6);
  assertEquals(logTimeMs(line({ message: "x" })), undefined);
  assertEquals(logTimeMs(line({ message: "x", timestamp: "not a time" })), undefined);
});

Deno.test("processInitTimes: initializing → initialized per job pid, in the order they finish", () => {
  const ts = (ms: number) => new Date(Date.UTC(2026, 10, 29, 18, 0, 0, ms)).toISOString();
  const lines = [
    line({ message: "initializing process", pid: 11, timestamp: ts(100) }),
    line({ message: "initializing process", pid: 12, timestamp: ts(150) }),
    line({ message: "starting worker", pid: 1, timestamp: ts(160) }),
    line({ message: "process initialized", pid: 12, timestamp: ts(400) }),
    line({ message: "process initialized", pid: 11, timestamp: ts(700) }),
    // An initialized line with no start is ignored rather than guessed.
    line({ message: "process initialized", pid: 13, timestamp: ts(800) }),
  ];
  assertEquals(processInitTimes(lines), [250, 600]);
});

Deno.test("pythonRoleOf: main, forkserver (child of main), jobs (children of the forkserver)", () => {
  const fs = "python -B -c from multiprocessing.forkserver import main; main(20, 22)";
  assertEquals(pythonRoleOf({ cmd: "python exit_message.py start", ppid: 1 }, 10, 10), "main");
  assertEquals(pythonRoleOf({ cmd: fs, ppid: 10 }, 10, 11), "forkserver");
  assertEquals(pythonRoleOf({ cmd: fs, ppid: 11 }, 10, 12), "job");
  assertEquals(
    pythonRoleOf(
      { cmd: "python -B -c from multiprocessing.resource_tracker import main", ppid: 10 },
      10,
      13,
    ),
    "resource_tracker",
  );
  assertEquals(pythonRoleOf({ cmd: "sh -c true", ppid: 10 }, 10, 14), "other");
});
