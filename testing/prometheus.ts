/**
 * Reading a `/metrics` scrape in tests, with a real Prometheus text-format parser
 * (`parse-prometheus-text-format`, which ships no types: its output is typed here), so a test
 * proves the output parses as Prometheus would read it, not as this project writes it.
 *
 * @module
 */
import parsePrometheus from "parse-prometheus-text-format";

/** One series as the parser returns it (numbers stay strings, as in the text). */
export interface Series {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

/** One metric family. */
export interface Family {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Series[];
}

/** Parses exposition text; throws on text a Prometheus parser rejects. */
export function parseScrape(text: string): Map<string, Family> {
  const families = (parsePrometheus as (t: string) => Family[])(text);
  return new Map(families.map((f) => [f.name, f]));
}

/** GETs `/metrics` on the health port and parses it (status and content type checked). */
export async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) {
    throw new Error(`GET /metrics: content-type ${type}`);
  }
  return parseScrape(text);
}

const matches = (s: Series, labels: Record<string, string>) =>
  Object.entries(labels).every(([k, v]) => s.labels?.[k] === v);

/**
 * The sum of a counter's or gauge's series matching `labels` (0 when none), or of a histogram's
 * observation counts.
 */
export function value(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name} in the scrape`);
  return family.metrics.filter((s) => matches(s, labels)).reduce(
    (sum, s) => sum + Number(family.type === "HISTOGRAM" ? s.count : s.value),
    0,
  );
}

/** A histogram's observation sum over the series matching `labels`. */
export function histogramSum(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name} in the scrape`);
  return family.metrics.filter((s) => matches(s, labels)).reduce((a, s) => a + Number(s.sum), 0);
}
