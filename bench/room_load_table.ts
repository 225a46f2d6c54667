/**
 * The room load's result as Markdown (`bench/room_load.ts` measures it): the table of its levels
 * with why each level that did not hold did not, and `lk perf agent-load-test`'s statistics box
 * as a list, each narrow enough for the docs' width.
 *
 * @module
 */
import type { RoomLoadResult } from "./room_load.ts";

/** A level's reason in one line (the caller's event dump stays in the JSON). */
export function shortWhy(why: string | undefined): string {
  return (why ?? "").split("; caller events")[0].split("\n")[0];
}

/**
 * `lk perf agent-load-test`'s statistics box as a list, one room a line ("room: Agent Joined ✓,
 * ..."), since the box runs wider than a page; the text as it came when it holds no box.
 */
export function lkStatsList(text: string): string {
  const rows = text.split("\n").filter((l) => l.trim().startsWith("│"))
    .map((l) => l.trim().slice(1, -1).split("│").map((c) => c.trim()));
  if (rows.length < 2) return `\`\`\`text\n${text}\n\`\`\``;
  const [head, ...data] = rows;
  const room = head.indexOf("Room");
  return data.map((cells) =>
    `- ${cells[room] ?? cells[0]}: ${
      cells.map((c, i) => i === room || head[i] === "#" || !c ? "" : `${head[i]} ${c}`)
        .filter(Boolean).join(", ")
    }`
  ).join("\n");
}

/**
 * The room load table as Markdown, then why each level that did not hold did not (one line
 * each, so the table fits the docs' width).
 */
export function roomLoadTable(r: RoomLoadResult): string {
  const lines = [
    "| Calls | Reply p50 / p95 (ms) | Goodbye in full ¹ | Completed | RSS per call (MiB) | CPU per call (s, cores) | Holds |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const why: string[] = [];
  for (const l of r.levels) {
    const bye = l.calls.filter((c) => c.byeToFirstAudioMs !== undefined);
    const heard = bye.filter((c) => c.goodbyeHeardInFull).length;
    lines.push(
      `| ${l.n} | ${Math.round(l.replyP50Ms)} / ${
        Math.round(l.replyP95Ms)
      } | ${heard} of ${bye.length} | ${Math.round(l.completedShare * 100)} % | ${
        l.rssPerCallMiB.toFixed(0)
      } | ${l.cpuSecondsPerCall.toFixed(1)} s, ${l.coresPerCall.toFixed(2)} | ${
        l.holds ? "yes" : "no"
      } |`,
    );
    if (!l.holds) why.push(`- ${l.n} calls: ${shortWhy(l.why)}`);
  }
  const notes = [
    "",
    "¹ Of the calls that said bye: the goodbye heard in full at the caller.",
    ...(why.length ? ["", "Why a level did not hold:", "", ...why] : []),
  ];
  return [...lines, ...notes].join("\n");
}
