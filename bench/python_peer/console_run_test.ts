import { assertEquals } from "@std/assert";
import { exitFlowTasks } from "./console_run.ts";

Deno.test("exitFlowTasks: keeps the exit flow's tasks, drops the rest, keeps the innermost frames", () => {
  const chain = Array.from({ length: 10 }, (_, i) => `f.py:${i} frame${i}`);
  const dump = [
    { task: "tool_exec_end_session", awaits: ["exit_message.py:24 end_session", "x.py:1 drain"] },
    { task: "Task-7", awaits: ["a.py:1 _pipeline_reply_task", "FutureIter"] },
    { task: "STT._metrics_task", awaits: ["stt.py:535 _metrics_monitor_task", "FutureIter"] },
    { task: "long", awaits: [...chain, "agent_session.py:1 aclose"] },
  ];
  const kept = exitFlowTasks(dump);
  assertEquals(kept.map((t) => t.task), ["tool_exec_end_session", "Task-7", "long"]);
  assertEquals(kept[2].awaits.length, 8);
  assertEquals(kept[2].awaits.at(-1), "agent_session.py:1 aclose");
});
