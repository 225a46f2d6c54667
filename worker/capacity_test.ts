import { assertEquals } from "@std/assert";
import { JobRequest } from "@livekit/agents";
import { Job } from "@livekit/protocol";
import { captureLogs } from "../testing/log_capture.ts";
import { CallCapacity, RESERVATION_MS } from "./capacity.ts";

/** A real job request whose answer is recorded. */
function request(id: string, answers: Map<string, string>): JobRequest {
  return new JobRequest(
    new Job({ id }),
    () => Promise.resolve(void answers.set(id, "rejected")),
    () => Promise.resolve(void answers.set(id, "accepted")),
  );
}

function fakeServer(running: string[]) {
  return { activeJobs: running.map((id) => ({ job: { id } })) } as never;
}

Deno.test("capacity: a burst past MAX_JOBS inside one load report: the first MAX_JOBS accepted, the rest refused", async () => {
  using logs = captureLogs("info");
  const answers = new Map<string, string>();
  const capacity = new CallCapacity(2);
  capacity.bind(fakeServer([]));
  for (const id of ["a", "b", "c", "d"]) await capacity.request(request(id, answers));
  // Each refusal says why, in one line.
  assertEquals(
    logs.lines.filter((l) => l.msg.startsWith("refusing a job: 2 of MAX_JOBS=2")).length,
    2,
  );
  assertEquals(Object.fromEntries(answers), {
    a: "accepted",
    b: "accepted",
    c: "rejected",
    d: "rejected",
  });
  assertEquals(capacity.load(), 1);
});

Deno.test("capacity: an accepted job counts once, before and after it runs; a place frees when a job ends", async () => {
  using _logs = captureLogs("info");
  const answers = new Map<string, string>();
  const running: string[] = [];
  const server = {
    get activeJobs() {
      return running.map((id) => ({ job: { id } }));
    },
  };
  const capacity = new CallCapacity(2);
  capacity.bind(server as never);
  await capacity.request(request("a", answers));
  assertEquals(capacity.taken, 1);
  running.push("a"); // launched: now counted as running, not twice
  assertEquals(capacity.taken, 1);
  await capacity.request(request("b", answers));
  running.push("b");
  await capacity.request(request("c", answers));
  assertEquals(answers.get("c"), "rejected");
  running.splice(0, 1); // call a ended
  await capacity.request(request("d", answers));
  assertEquals(answers.get("d"), "accepted");
  assertEquals(capacity.load(), 1);
});

Deno.test("capacity: an accepted job that never starts (assigned elsewhere, timed out) frees its place after RESERVATION_MS", async () => {
  let now = 0;
  using _logs = captureLogs("info");
  const answers = new Map<string, string>();
  const capacity = new CallCapacity(1, () => now);
  capacity.bind(fakeServer([]));
  await capacity.request(request("a", answers));
  await capacity.request(request("b", answers));
  assertEquals(answers.get("b"), "rejected");
  now += RESERVATION_MS + 1;
  await capacity.request(request("c", answers));
  assertEquals(answers.get("c"), "accepted");
});

Deno.test("capacity: before the first load report binds the server, accepted jobs still count", async () => {
  using _logs = captureLogs("info");
  const answers = new Map<string, string>();
  const capacity = new CallCapacity(1);
  await capacity.request(request("a", answers));
  await capacity.request(request("b", answers));
  assertEquals(Object.fromEntries(answers), { a: "accepted", b: "rejected" });
  assertEquals(capacity.load(), 1);
});
