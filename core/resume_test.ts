import { assert, assertEquals } from "@std/assert";
import { greetResumed, readResume, RESUME_KEY, RESUME_TEXT, resumeMetadata } from "./resume.ts";
import { startFaultCall } from "../testing/session_harness.ts";

const INFO = {
  lostIdentity: "agent-AJ_x",
  lostAt: 1_700_000_000_000,
  reason: "CONNECTION_TIMEOUT",
};

Deno.test("resume: the metadata the keeper writes reads back as the same resume", () => {
  assertEquals(readResume(resumeMetadata(INFO)), INFO);
});

Deno.test("resume: a new call's metadata (none, not JSON, another JSON shape) is no resume", () => {
  for (
    const metadata of [
      undefined,
      "",
      "not json",
      "42",
      "null",
      '{"customer":"42"}',
      `{"${RESUME_KEY}":"yes"}`,
      `{"${RESUME_KEY}":{"lostAt":1}}`,
    ]
  ) {
    assertEquals(readResume(metadata), undefined, `for ${metadata}`);
  }
});

Deno.test("resume: a reason that is missing reads as unknown, the rest is kept", () => {
  const metadata = JSON.stringify({ [RESUME_KEY]: { lostIdentity: "a", lostAt: 5 } });
  assertEquals(readResume(metadata), { lostIdentity: "a", lostAt: 5, reason: "unknown" });
});

Deno.test("resume: a replacement agent says it lost the thread, in full, and the line stays in the history", async () => {
  await using call = await startFaultCall();
  const handle = greetResumed(call.session, call.ending, INFO, INFO.lostAt + 1_234);
  if (!handle) throw new Error("nothing was said");
  await handle.waitForPlayout();
  assertEquals(call.gw.synthesized().join(" "), RESUME_TEXT);
  const seg = call.speaker.segments.at(-1);
  assert(seg?.finished && !seg.interrupted, `the line was cut: ${JSON.stringify(seg)}`);
  const messages = call.session.history.items.flatMap((i) =>
    i.type === "message" ? [`${i.role}: ${i.textContent}`] : []
  );
  assertEquals(messages, [`assistant: ${RESUME_TEXT}`]);
  const line = call.logs.lines.find((l) => l.msg.startsWith("taking over a call"));
  assertEquals(line?.since_lost_ms, 1_234);
  assertEquals(line?.resumes, INFO.lostIdentity);
});

Deno.test("resume: once the call is ending, the replacement says nothing", async () => {
  await using call = await startFaultCall();
  call.ending.request("end_session");
  assertEquals(greetResumed(call.session, call.ending, INFO), undefined);
  // The log line still says what happened.
  assert(call.logs.lines.some((l) => l.msg.startsWith("taking over a call")));
  assertEquals(call.gw.synthesized(), []);
});
