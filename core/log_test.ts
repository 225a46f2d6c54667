import { assertEquals } from "@std/assert";
import { initializeLogger, log } from "@livekit/agents";
import { bindLogContext, forgetJobLogger, routeLogsByJob } from "./log.ts";

Deno.test("routeLogsByJob: each job's lines carry its own fields, library lines included; others get none", () => {
  const key = Symbol.for("@livekit/agents:logger");
  const saved = (globalThis as Record<symbol, unknown>)[key];
  initializeLogger({ pretty: false, level: "info" });
  const lines: Record<string, unknown>[] = [];
  // pino writes JSON lines to its destination; capture them through a child's bindings instead.
  const bindings = () => (log() as unknown as { bindings(): Record<string, unknown> }).bindings();
  let current: string | undefined;
  try {
    routeLogsByJob(() => current);
    current = "AJ_a";
    bindLogContext({ room: "room-a" });
    current = "AJ_b";
    bindLogContext({ room: "room-b" });
    current = "AJ_a";
    lines.push(bindings());
    current = "AJ_b";
    lines.push(bindings());
    current = undefined;
    lines.push(bindings());
    current = "AJ_a";
    forgetJobLogger("AJ_a");
    lines.push(bindings());
    assertEquals(lines.map((l) => l.room), ["room-a", "room-b", undefined, undefined]);
  } finally {
    (globalThis as Record<symbol, unknown>)[key] = saved;
  }
});
