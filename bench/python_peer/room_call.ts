/**
 * Driving and watching one call in a real room, for the behaviour scenarios
 * (`room_scenarios.ts`) and the performance runs (`room_perf.ts`): the caller says a phrase (or
 * learns the call ended first), a phrase is looked for in the caller's recording, the gateway's
 * log is waited on and read, and the job's log is cut down to what explains the ending. Every
 * wait is bounded.
 *
 * @module
 */
import { GOODBYE } from "../../agent.ts";
import { readWavFile } from "../../console/wav.ts";
import { type Caller, CALLER_SAMPLE_RATE, epochMs } from "../../testing/real_room/caller/mod.ts";
import { findHeard, type HeardMatch, inFull } from "../../testing/real_room/caller/heard.ts";
import { BYE, HELLO, type RealRoom } from "../../testing/real_room/real_room.ts";
import type { GatewayEvent } from "../../simulation/mod.ts";
import { sleep } from "../proc.ts";
import type { RoomAgent } from "./room_agent.ts";
import type { GoodbyeHeard, ScenarioBase } from "./room_records.ts";

/** Epoch ms of a gateway event (the gateway runs in this process). */
export function epochOf(e: GatewayEvent): number {
  return performance.timeOrigin + e.t;
}

/** The first gateway event passing `pred` at or after `after` (epoch ms), within `ms`. */
export async function gatewayEvent(
  room: RealRoom,
  after: number,
  pred: (e: GatewayEvent) => boolean,
  ms: number,
): Promise<GatewayEvent | undefined> {
  try {
    return await room.gateway.waitFor((e) => epochOf(e) >= after && pred(e), ms);
  } catch {
    return undefined;
  }
}

/** What the agent asked the TTS to say from `after` (epoch ms) on. */
export function saidSince(room: RealRoom, after: number): string[] {
  return room.gateway.log.flatMap((e) =>
    e.kind === "tts_transcript" && epochOf(e) >= after ? [e.text.trim()] : []
  );
}

/** The caller's disconnect, when it comes within `ms`. */
export async function disconnectWithin(
  caller: Caller,
  ms: number,
): Promise<{ reason: string; at: number } | undefined> {
  try {
    const e = await caller.disconnected(ms);
    return { reason: e.reason, at: e.at };
  } catch {
    return undefined;
  }
}

/**
 * Looks for `text` in the caller's recording from `notBefore` (epoch ms) on: after each stretch
 * of agent audio that ends after `notBefore` (the caller reports it when a silence or its
 * disconnect closes it), the recording is saved once and searched, until `text` is found with a
 * little recording after it, or `ms` passed. Searching only when a stretch ended keeps the
 * analysis (which costs CPU) off the machine while the calls are measured. Never throws.
 */
export async function heardMatch(
  caller: Caller,
  text: string,
  notBefore: number,
  ms: number,
): Promise<HeardMatch | undefined> {
  const path = await Deno.makeTempFile({ prefix: "side-by-side-", suffix: ".wav" });
  const deadline = performance.now() + ms;
  let after = notBefore;
  let match: HeardMatch | undefined;
  try {
    for (;;) {
      const left = deadline - performance.now();
      const stretch = left <= 0 ? undefined : await caller.waitFor(
        "heard",
        left,
        (e) => e.endAt > after,
        `agent audio after +${Math.round(after - notBefore)} ms`,
      ).catch(() => undefined);
      // A moment of recording after the stretch, so a match can show it was not cut.
      await sleep(300);
      const asked = epochMs();
      const saved = await caller.save(path);
      const wav = await readWavFile(path);
      const gone = caller.events().find((e) => e.ev === "disconnected");
      const endAt = gone?.ev === "disconnected" ? gone.at : asked;
      const startAt = saved.startAt + recordingDrift(endAt, saved);
      match = findHeard({ startAt, samples: wav.samples }, text, notBefore);
      if ((match && match.recordedAfterMs >= 100) || !stretch) return match;
      after = stretch.endAt;
    }
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * How far the recording's timeline lags the clock at its end, ms (0 when under 250 ms). The
 * caller stamps only the recording's first sample and counts 10 ms per sample block after it; a
 * caller process starved of CPU on a loaded machine loses received frames, so over a long call
 * the recording comes out shorter than the time it spans, and an utterance near its end would
 * be looked for too late. `endAt` is when the recording ended: the caller's disconnect, or else
 * when it was asked to save (the agent's track delivers frames, silence included, until then).
 */
export function recordingDrift(
  endAt: number,
  saved: { startAt: number; samples: number },
): number {
  const drift = endAt - (saved.startAt + (saved.samples / CALLER_SAMPLE_RATE) * 1000);
  return drift > 250 ? drift : 0;
}

/** Waits for "Goodbye!" to be synthesized after `after`, then for the caller to hear it. */
export async function goodbyeAfter(
  room: RealRoom,
  caller: Caller,
  after: number,
  ms = 20_000,
): Promise<GoodbyeHeard> {
  const asked = await gatewayEvent(
    room,
    after,
    (e) => e.kind === "tts_transcript" && e.text.trim() === GOODBYE,
    ms,
  );
  if (!asked) return { found: false, inFull: false };
  return await goodbyeFrom(caller, epochOf(asked), ms);
}

/** The goodbye synthesized at `synthesizedAt` (epoch ms), as the caller heard it. */
export async function goodbyeFrom(
  caller: Caller,
  synthesizedAt: number,
  ms = 20_000,
): Promise<GoodbyeHeard> {
  const m = await heardMatch(caller, GOODBYE, synthesizedAt, ms);
  return {
    synthesizedAt,
    found: m !== undefined,
    inFull: inFull(m),
    coverage: m?.coverage,
    endHeard: m?.endHeard,
    correlation: m?.correlation,
    startAt: m?.startAt,
    endAt: m?.endAt,
  };
}

/** The caller's words were said in full, or the call ended while it spoke. */
export type SaidOrGone =
  | { said: { startAt: number; endAt: number }; gone?: undefined }
  | { said?: undefined; gone: { reason: string; at: number } };

/**
 * Says `text`, and resolves when it was said or when the call ended first (the agent deleted the
 * room while the caller spoke), whichever comes first; rejects only after `timeoutMs`.
 */
export async function sayOrGone(
  caller: Caller,
  text: string,
  timeoutMs = 30_000,
): Promise<SaidOrGone> {
  const gone = caller.events().find((e) => e.ev === "disconnected");
  if (gone?.ev === "disconnected") return { gone: { reason: gone.reason, at: gone.at } };
  const since = caller.phones.events.length;
  await caller.phones.send({
    op: "say",
    id: caller.id,
    text,
    pitchHz: caller.phones.pitchOf(text),
  });
  const e = await caller.phones.waitFor(
    (e) =>
      "id" in e && e.id === caller.id && caller.phones.events.indexOf(e) >= since &&
      ((e.ev === "said" && e.text === text) || e.ev === "disconnected"),
    timeoutMs,
    `${caller.id} to say "${text}" (or the call to end)`,
  );
  if (e.ev === "said") return { said: { startAt: e.startAt, endAt: e.endAt } };
  if (e.ev === "disconnected") return { gone: { reason: e.reason, at: e.at } };
  throw new Error(`unexpected caller event ${e.ev}`);
}

/** Says `text`; throws, saying why, when the call ended before it was said. */
export async function sayInCall(
  caller: Caller,
  text: string,
): Promise<{ startAt: number; endAt: number }> {
  const r = await sayOrGone(caller, text);
  if (r.gone) {
    throw new Error(
      `the call ended (${r.gone.reason}) before "${text}" was said: the simulated STT took an ` +
        "earlier phrase for a goodbye (it recognizes phrases by pitch; a starved caller can garble one)",
    );
  }
  return r.said;
}

/** Says hello and waits for the reply to be heard; returns its latency (end of hello → audio). */
export async function hello(caller: Caller): Promise<number> {
  const said = await sayInCall(caller, HELLO);
  try {
    const first = await caller.waitFor("heard_start", 30_000, (e) => e.at >= said.endAt);
    await caller.waitFor("heard", 30_000, (e) => e.startAt >= said.endAt);
    return first.at - said.endAt;
  } catch {
    throw new Error(`no reply to "${HELLO}" heard within 30 s`);
  }
}

/** Waits until `check` holds or `ms` passes; returns the ms it took, or undefined. */
export async function within(ms: number, check: () => boolean): Promise<number | undefined> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > ms) return undefined;
    await sleep(100);
  }
  return performance.now() - t0;
}

/** The LLM asked for `end_session`. */
const toolCall = (e: GatewayEvent) => e.kind === "llm_tool_call" && e.name === "end_session";

/** Times a bye is said at most when the STT mishears it. */
export const BYE_ATTEMPTS = 3;

/**
 * Says bye until the LLM calls `end_session` (at most {@link BYE_ATTEMPTS} times): the simulated
 * STT recognizes a phrase by its pitch, and a caller starved by a loaded machine may garble it
 * past recognition; then the agent answers something else, and the caller says it again once
 * that answer is over. Returns the bye that worked and the tool call, or the last bye.
 */
export async function sayBye(
  room: RealRoom,
  caller: Caller,
  record: ScenarioBase,
): Promise<{ said: { startAt: number; endAt: number }; tool?: GatewayEvent }> {
  for (let tries = 1;; tries++) {
    const said = await sayInCall(caller, BYE);
    record.byeTries = tries;
    const misheard = gatewayEvent(
      room,
      said.startAt,
      (e) => e.kind === "stt_final" && e.text !== BYE,
      20_000,
    );
    const tool = await Promise.race([
      gatewayEvent(room, said.startAt, toolCall, 20_000),
      misheard.then((e) => (e ? "misheard" as const : undefined)),
    ]);
    if (tool !== "misheard") return { said, tool };
    if (tries >= BYE_ATTEMPTS) return { said };
    // Let the agent's answer to the misheard phrase play out before saying bye again.
    await caller.waitFor("heard", 20_000, (e) => e.startAt >= said.endAt).catch(() => {});
  }
}

/**
 * Lines of the job in `room` worth reading, each message once (with how often it came): those
 * about the ending first, then the other warnings and errors.
 */
export function jobStory(agent: RoomAgent, room: string): string[] {
  const telling =
    /tool|session (ended|closed)|clos|drain|delet|disconnect|shut|exit|goodbye|error/i;
  const counts = new Map<string, { n: number; telling: boolean }>();
  for (const l of agent.roomLines(room)) {
    const level = l.json.level;
    const loud = typeof level === "number"
      ? level >= 40
      : /WARN|ERROR|CRITICAL/.test(String(level));
    if (!loud && !telling.test(l.msg)) continue;
    const key = `${level ?? ""} ${l.msg}`.slice(0, 240);
    const c = counts.get(key) ?? { n: 0, telling: telling.test(l.msg) };
    c.n++;
    counts.set(key, c);
  }
  return [...counts].sort(([, a], [, b]) => Number(b.telling) - Number(a.telling))
    .map(([line, c]) => c.n > 1 ? `${line} (${c.n}x)` : line).slice(0, 30);
}

/** An error's message up to its first line break or its first "; " (the details after it). */
export function firstSentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].split("; ")[0];
}
