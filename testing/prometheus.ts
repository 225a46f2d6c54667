/**
 * Reading a `/metrics` scrape in tests with a real Prometheus text-format parser, so a test proves
 * the output parses as a scraper reads it, not as this project writes it.
 *
 * Parser: `prom2javascript` (npm). The better-known `parse-prometheus-text-format` was tried
 * first and cannot serve: it folds every series of a labeled histogram into one, dropping the
 * labels, `_count` and `_sum` (its `flattenMetrics`), and this worker's histograms carry labels.
 *
 * @module
 */
import { Readable } from "node:stream";
import { getMetricsFromStream, type PromMetrics } from "prom2javascript";

/** The parsed scrape: metric families by name. */
export type Scrape = PromMetrics;

/** Parses exposition text; rejects text a Prometheus parser cannot read. */
export function parseScrape(text: string): Promise<Scrape> {
  return getMetricsFromStream(Readable.from([text]));
}

/** GETs `/metrics` on the health port and parses it (status and content type checked). */
export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) {
    throw new Error(`GET /metrics: content-type ${type}`);
  }
  return await parseScrape(text);
}

interface Sample {
  labels: Record<string, string>;
  value?: number;
  count?: number;
  sum?: number;
}

function samples(s: Scrape, name: string, labels: Record<string, string>): Sample[] {
  const family = s[name];
  if (!family) throw new Error(`no metric ${name} in the scrape`);
  return (family.data as Sample[]).filter((d) =>
    Object.entries(labels).every(([k, v]) => d.labels?.[k] === v)
  );
}

/**
 * The sum over the series of `name` matching `labels` (0 when none): values of a counter or
 * gauge, observation counts of a histogram.
 */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const histogram = s[name]?.type === "histogram";
  return samples(s, name, labels).reduce(
    (sum, d) => sum + Number(histogram ? d.count : d.value),
    0,
  );
}

/** A histogram's sum of observations over the series matching `labels`. */
export function histogramSum(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((a, d) => a + Number(d.sum ?? 0), 0);
}
