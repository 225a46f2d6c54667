/**
 * Callers for tests and benchmarks: a real participant on `@livekit/rtc-node` in a child process
 * (`main.ts`), driven from the test. One {@link CallerProcess} can hold many {@link Caller}s.
 *
 * ```ts
 * await using phones = await CallerProcess.start();
 * const caller = await phones.join(server, "room-1");
 * await caller.waitForAgent(30_000);
 * await caller.say("Hello there!");
 * ```
 *
 * What a caller says is rendered with the simulation's synthetic voice, each phrase of the
 * simulated STT's phrasebook at its own pitch (`phrasePitches`); the STT recognizes the phrase by
 * that pitch (`GatewayOptions.sttPhrasebook`), so each utterance maps to a scripted transcript
 * even with many calls at once, and whatever the jitter buffers do to its length.
 *
 * @module
 */
import { AccessToken } from "livekit-server-sdk";
import { textLines } from "../../lines.ts";
import { fromFileUrl } from "../../paths.ts";
import { bounded } from "../../wait.ts";
import type { CallerCommand, CallerEvent } from "./protocol.ts";

export { CALLER_SAMPLE_RATE, type CallerEvent, epochMs } from "./protocol.ts";
export { HEARD_GAP_MS, HEARD_THRESHOLD } from "./participant.ts";

const MAIN = fromFileUrl(new URL("./main.ts", import.meta.url));
const CONFIG = fromFileUrl(new URL("../../../deno.json", import.meta.url));

/** What a caller needs of the server: its URL and a key pair to mint a token with. */
export interface ServerAccess {
  /** `ws://127.0.0.1:PORT`. */
  url: string;
  /** API key. */
  apiKey: string;
  /** API secret. */
  apiSecret: string;
}

type EventOf<K extends CallerEvent["ev"]> = Extract<CallerEvent, { ev: K }>;

interface Waiter {
  test: (e: CallerEvent) => boolean;
  resolve: (e: CallerEvent) => void;
}

/** Options of {@link CallerProcess.start}. */
export interface CallerOptions {
  /** The pitch `text` is said at, if it is a phrase of the simulated STT's phrasebook. */
  pitchOf?: (text: string) => number | undefined;
}

/** A caller process holding any number of callers. */
export class CallerProcess {
  /** Every event so far, in order. */
  readonly events: CallerEvent[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pumps: Promise<void>;
  readonly #stderr: string[] = [];
  #waiters: Waiter[] = [];
  #ids = 0;
  #exited?: Deno.CommandStatus;

  /** The pitch each phrase is said at (see {@link CallerOptions}). */
  readonly pitchOf: (text: string) => number | undefined;

  private constructor(child: Deno.ChildProcess, pitchOf: (text: string) => number | undefined) {
    this.#child = child;
    this.pitchOf = pitchOf;
    this.#stdin = child.stdin.getWriter();
    this.#pumps = Promise.all([this.#readEvents(), this.#readStderr()]).then(() => {});
    child.status.then((s) => (this.#exited = s));
  }

  /**
   * Starts a caller process and waits until it is ready. `pitchOf` gives the pitch a phrase is
   * said at (a phrasebook's, so the simulated STT recognizes it); other text gets the default.
   */
  static async start(options: CallerOptions = {}): Promise<CallerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, MAIN],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const phones = new CallerProcess(child, options.pitchOf ?? (() => undefined));
    try {
      await phones.waitFor((e) => e.ev === "ready", 30_000, "the caller process to start");
    } catch (error) {
      await phones.stop();
      throw error;
    }
    return phones;
  }

  /** PID of the caller process. */
  get pid(): number {
    return this.#child.pid;
  }

  async #readEvents(): Promise<void> {
    for await (const line of textLines(this.#child.stdout)) {
      if (!line.trim()) continue;
      let event: CallerEvent;
      try {
        event = JSON.parse(line);
      } catch {
        event = { ev: "error", message: `not an event: ${line}` };
      }
      if (typeof event !== "object" || event === null || !("ev" in event)) {
        // rtc-node's own log lines (pino JSON on stdout) are kept with stderr.
        this.#keepStderr(line);
        continue;
      }
      this.events.push(event);
      for (const w of [...this.#waiters]) {
        if (w.test(event)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    }
  }

  async #readStderr(): Promise<void> {
    for await (const line of textLines(this.#child.stderr)) this.#keepStderr(line);
  }

  #keepStderr(line: string): void {
    this.#stderr.push(line);
    if (this.#stderr.length > 200) this.#stderr.splice(0, this.#stderr.length - 200);
  }

  /** Sends one command. */
  async send(cmd: CallerCommand): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
  }

  /** Resolves with the first event (seen or future) that passes `test`; rejects after `timeoutMs`. */
  waitFor(
    test: (e: CallerEvent) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<CallerEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    const error = this.events.find((e) => e.ev === "error");
    let waiter: Waiter | undefined;
    const found = new Promise<CallerEvent>((resolve) => {
      waiter = { test, resolve };
      this.#waiters.push(waiter);
    });
    return bounded(found, timeoutMs, () => {
      this.#waiters.splice(this.#waiters.indexOf(waiter!), 1);
      return `no caller event: ${what} within ${timeoutMs} ms` +
        (error ? ` (caller error: ${JSON.stringify(error)})` : "") +
        `; caller events: ${JSON.stringify(this.events.slice(-12))}` +
        (this.#exited ? `; the caller process exited ${this.#exited.code}` : "") +
        `; stderr tail:\n${this.#stderr.slice(-10).join("\n")}`;
    });
  }

  /** Mints a token for `room` and joins it as a new caller. */
  async join(
    server: ServerAccess,
    room: string,
    options: { identity?: string; timeoutMs?: number } = {},
  ): Promise<Caller> {
    const id = `caller-${++this.#ids}`;
    const identity = options.identity ?? `${id}-${crypto.randomUUID().slice(0, 6)}`;
    const token = new AccessToken(server.apiKey, server.apiSecret, { identity, ttl: "10m" });
    token.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
    await this.send({ op: "join", id, url: server.url, token: await token.toJwt() });
    await this.waitFor(
      (e) => (e.ev === "joined" || e.ev === "error") && "id" in e && e.id === id,
      options.timeoutMs ?? 20_000,
      `${id} to join room ${room}`,
    ).then((e) => {
      if (e.ev === "error") throw new Error(`${id} could not join room ${room}: ${e.message}`);
    });
    return new Caller(this, id, room, identity);
  }

  /** Asks the process to hang up everyone and exit; kills it by PID if it has not within 10 s. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        await this.send({ op: "quit" });
        await this.#stdin.close();
      } catch {
        // the process is gone already
      }
      try {
        await bounded(this.#child.status, 10_000, () => "caller process did not quit");
      } catch {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
    }
    await this.#child.status;
    await this.#pumps;
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** One caller in one room. */
export class Caller {
  constructor(
    readonly phones: CallerProcess,
    readonly id: string,
    readonly room: string,
    readonly identity: string,
  ) {}

  /** This caller's events so far. */
  events(): CallerEvent[] {
    return this.phones.events.filter((e) => "id" in e && e.id === this.id);
  }

  /** Waits for this caller's first event of kind `ev` (seen or future) passing `test`. */
  async waitFor<K extends CallerEvent["ev"]>(
    ev: K,
    timeoutMs: number,
    test: (e: EventOf<K>) => boolean = () => true,
    what: string = ev,
  ): Promise<EventOf<K>> {
    return await this.phones.waitFor(
      (e) => e.ev === ev && "id" in e && e.id === this.id && test(e as EventOf<K>),
      timeoutMs,
      `${this.id}: ${what}`,
    ) as EventOf<K>;
  }

  /**
   * Waits until an agent participant is in the room, the caller hears its audio track, and the
   * agent subscribed to the caller's microphone (so the first words said reach it whole).
   */
  async waitForAgent(timeoutMs: number): Promise<{ identity: string; joinedAt: number }> {
    const joined = await this.waitFor(
      "participant_joined",
      timeoutMs,
      (e) => e.kind === "AGENT",
      "an agent participant joined",
    );
    await this.waitFor(
      "subscribed",
      timeoutMs,
      (e) => e.identity === joined.identity,
      "the agent's audio track",
    );
    await this.waitFor("mic_subscribed", timeoutMs, () => true, "the agent to hear the microphone");
    return { identity: joined.identity, joinedAt: joined.at };
  }

  /** Says `text` (real time) and resolves when it was said, with its start and end. */
  async say(text: string, timeoutMs = 30_000): Promise<EventOf<"said">> {
    const since = this.phones.events.length;
    await this.phones.send({ op: "say", id: this.id, text, pitchHz: this.phones.pitchOf(text) });
    return await this.phones.waitFor(
      (e) =>
        e.ev === "said" && e.id === this.id && e.text === text &&
        this.phones.events.indexOf(e) >= since,
      timeoutMs,
      `${this.id} to say "${text}"`,
    ) as EventOf<"said">;
  }

  /** Stretches of agent audio heard so far. */
  heard(): EventOf<"heard">[] {
    return this.events().filter((e): e is EventOf<"heard"> => e.ev === "heard");
  }

  /** Waits for the first stretch of agent audio that starts after `after` (epoch ms) and ends. */
  heardAfter(after: number, timeoutMs: number, what = "agent audio"): Promise<EventOf<"heard">> {
    return this.waitFor("heard", timeoutMs, (e) => e.startAt >= after, what);
  }

  /** Hangs up. */
  async hangup(): Promise<void> {
    await this.phones.send({ op: "hangup", id: this.id });
    await this.waitFor("disconnected", 10_000, () => true, "its own disconnect after hanging up");
  }

  /** Waits for this caller's disconnect and returns the reason. */
  async disconnected(timeoutMs: number): Promise<EventOf<"disconnected">> {
    return await this.waitFor("disconnected", timeoutMs);
  }

  /** Writes what it heard so far to `path` (48 kHz mono WAV). */
  async save(path: string): Promise<EventOf<"saved">> {
    const since = this.phones.events.length;
    await this.phones.send({ op: "save", id: this.id, path });
    return await this.phones.waitFor(
      (e) => e.ev === "saved" && e.id === this.id && this.phones.events.indexOf(e) >= since,
      10_000,
      `${this.id} to save ${path}`,
    ) as EventOf<"saved">;
  }
}
