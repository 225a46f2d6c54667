import { assert, assertEquals } from "@std/assert";
import { isAlive, killDescendants, listDescendants } from "./process_tree.ts";
import { until } from "../testing/wait.ts";

Deno.test("finds a process's descendants and ends them all by PID, grandchildren included", async () => {
  // sh -> (sleep, sh -> sleep): the grandchild must not escape to init when its parent dies.
  const child = new Deno.Command("sh", {
    args: ["-c", "sleep 60 & sh -c 'sleep 60 & wait' & echo ready; wait"],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    assertEquals((await reader.read()).value?.trim(), "ready");
    // The inner shell forks its sleep asynchronously: wait for the full tree (bounded).
    const tree = await until(
      () => {
        const t = listDescendants(child.pid);
        return t.length === 3 ? t : undefined;
      },
      5_000,
      "sleep, sh and the inner sleep below the shell",
    );
    assert(!tree.includes(child.pid));

    const killed = killDescendants(child.pid);
    assertEquals(killed.sort(), tree.sort());
    await child.status;
    for (const pid of tree) assert(!isAlive(pid), `pid ${pid} is gone`);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await reader.cancel();
  }
});

Deno.test("a process without children has no descendants", () => {
  assertEquals(listDescendants(2 ** 22 + 12345), []);
});
