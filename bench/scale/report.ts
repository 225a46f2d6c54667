/**
 * The scale benchmark's summary: one short block per scenario, the figures docs/scaling.md
 * quotes, with the date, the command and the machine's load.
 *
 * @module
 */
import type { ScaleResult } from "./main.ts";
import type { CallRecord } from "./calls.ts";

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

function range(xs: (number | undefined)[]): string {
  const s = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (!s.length) return "n/a";
  return `median ${median(s)} ms (${Math.min(...s)}–${Math.max(...s)}, n=${s.length})`;
}

function outcomes(calls: CallRecord[]): string {
  const heard = calls.filter((c) => c.goodbyeHeard).length;
  const hello = calls.filter((c) => c.helloAnswered).length;
  const helloFull = calls.filter((c) => c.helloHeardInFull).length;
  const deleted = calls.filter((c) => c.reason === "ROOM_DELETED").length;
  const failed = calls.filter((c) => c.error);
  return `${calls.length} calls: hello answered ${hello} (reply heard in full ${helloFull}), ` +
    `goodbye heard in full ${heard}, ROOM_DELETED ${deleted}` +
    (failed.length ? `; failed: ${failed.map((c) => `${c.room}: ${c.error}`).join("; ")}` : "");
}

/** The summary as Markdown. */
export function scaleSummary(r: ScaleResult): string {
  const out = [
    `Date: ${
      r.date.slice(0, 16).replace("T", " ")
    } UTC · ${r.machine.cpu}, ${r.machine.cores} cores · ` +
    `load average at start ${r.loadavg.start.join(" ")}, at end ${r.loadavg.end.join(" ")}`,
    `Command: \`${r.command}\``,
  ];
  if (r.spread) {
    out.push(
      "",
      "1. Two workers, calls arriving every 5 s: " +
        `${JSON.stringify(r.spread.perWorker)}; ${outcomes(r.spread.calls)}; ` +
        `caller joined -> agent joined ${range(r.spread.calls.map((c) => c.agentMs))}.`,
    );
  }
  if (r.deploy) {
    const d = r.deploy;
    out.push(
      "",
      `2. Rolling deploy (SIGTERM to A before call ${
        d.signalledBefore + 1
      } of ${d.calls.length}, ` +
        `A' started at once): A' registered ${d.replacementRegisteredMs} ms after the SIGTERM; ` +
        `calls sent to A after the SIGTERM: ${d.callsToOldAfterSignal}; unanswered: ${d.unanswered}; ` +
        `agent join median ${d.agentMsBefore} ms before, max ${d.agentMsDuringMax} ms from the SIGTERM on; ` +
        `A exited ${d.oldExit.code} ${
          d.oldExit.afterLastCallMs ?? "?"
        } ms after its last call ended; ` +
        `${outcomes(d.calls)}; per worker ${
          JSON.stringify(
            d.calls.reduce<Record<string, number>>((m, c) => {
              const k = c.worker === undefined ? "none" : ["A", "B", "A'"][c.worker] ?? "?";
              m[k] = (m[k] ?? 0) + 1;
              return m;
            }, {}),
          )
        }.`,
    );
  }
  if (r.crash) {
    const c = r.crash;
    const failed = c.filter((x) => x.error);
    out.push(
      "",
      `3. A worker SIGKILLed (whole tree) after the hello, two workers and the keeper, ${c.length} time(s): ` +
        `crash -> dead agent gone ${range(c.map((x) => x.goneMs))}; ` +
        `-> replacement joined ${range(c.map((x) => x.replacementJoinedMs))}; ` +
        `-> it starts saying it lost the thread ${range(c.map((x) => x.resumeHeardMs))} ` +
        `(heard in full ${c.filter((x) => x.resumeHeardInFull).length} of ${c.length}); ` +
        `-> answer to the next question heard ${range(c.map((x) => x.answerHeardMs))}; ` +
        `on a surviving worker ${c.filter((x) => x.onSurvivor).length}, goodbye heard ${
          c.filter((x) => x.goodbyeHeard).length
        }, ROOM_DELETED ${c.filter((x) => x.reason === "ROOM_DELETED").length}` +
        (failed.length ? `; failed: ${failed.map((x) => x.error).join("; ")}` : "") + ".",
    );
  }
  if (r.node) {
    const n = r.node;
    out.push(
      "",
      `4. Two nodes on one Redis, workers on node 1 (through a failover proxy), callers through node 2, keeper on; node 1 SIGKILLed with ${n.calls.length} calls in progress. ` +
        `Before: ${outcomes([n.before])}. Workers registered again (on node 2) ${
          n.reregisteredMs.join(", ")
        } ms after the stop. After: ${outcomes([n.after])}.`,
      ...n.calls.map((c) =>
        `   - ${c.room} (room hosted on the ${c.hostedOn} node): ${
          c.timeline.join("; ") || "nothing seen"
        }; then bye: ${
          c.goodbyeHeardAfter ? `goodbye heard, ${c.reason}` : c.error ?? `not tried (${c.reason})`
        }`
      ),
    );
  }
  if (r.full) {
    for (const f of r.full) {
      const told = f.unanswered.filter((u) => u.told);
      out.push(
        "",
        `5. Full fleet ${
          f.keeper ? "with" : "without"
        } the keeper: ${f.workers} workers at MAX_JOBS=${f.maxJobs}, ` +
          `${f.calls.length} callers 0.5 s apart, calls held: per worker ${
            JSON.stringify(f.perWorker)
          }; ` +
          `${f.unanswered.length} got no agent: ${
            f.unanswered.length === 0
              ? "-"
              : told.length
              ? `${told.length} told and hung up (${
                range(told.map((u) => u.waitedMs))
              } after joining)`
              : `none told; they waited in silence until they gave up (${
                range(f.unanswered.map((u) => u.waitedMs))
              })`
          }; answered: ${outcomes(f.calls.filter((c) => c.agentMs !== undefined))}.`,
      );
    }
  }
  return out.join("\n");
}
