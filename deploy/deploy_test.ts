/**
 * The deploy files against the code's own defaults, so they cannot drift apart: each file is
 * parsed (Dockerfile instructions, the Kubernetes manifest as YAML, the systemd unit as INI, the
 * Grafana dashboard's queries as PromQL with Prometheus's own grammar) and its port, stop signal,
 * stop timeout, command, probes, secrets, resources and metric names are checked against
 * `worker/option_specs.ts`, agents-js's health routes, the per-call figures of the density
 * measurements and `worker/metrics.ts`.
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { parse as parseYaml } from "@std/yaml";
import { parse as parseIni } from "ini";
import {
  DEFAULT_DRAIN_TIMEOUT_S,
  DEFAULT_HEALTH_PORT,
  DEFAULT_SHUTDOWN_GRACE_S,
  OPTION_SPECS,
} from "../worker/option_specs.ts";
import { AGENT_ENV_VARS } from "../core/env_vars.ts";
import { METRIC_NAMES } from "../worker/metrics.ts";
import { parser } from "@prometheus-io/lezer-promql";

const read = (name: string) => Deno.readTextFileSync(new URL(`./${name}`, import.meta.url));

/**
 * What one call costs today (the density measurements: `bench/density/profile_call.ts`, about
 * 0.3 cores and 175 MiB PSS per call; the density work aims at <= 0.10 cores and <= 80 MiB). When
 * the measurements move, these move, and the Deployment's requests with them.
 */
const PER_CALL = { cores: 0.3, mib: 175 } as const;
/**
 * What a worker costs before its first call: the main process, the inference process (the local
 * end-of-turn model) and the idle job processes (README benchmark 4b: 158, 332 and 185 MiB RSS).
 */
const BASE = { cores: 0.2, mainMib: 160, inferenceMib: 335, idleProcessMib: 185 } as const;

/** The longest a worker may take to stop after SIGTERM with the code's defaults. */
const SHUTDOWN_BOUND_S = DEFAULT_DRAIN_TIMEOUT_S + DEFAULT_SHUTDOWN_GRACE_S;

/** agents-js 1.9.0's health server answers these (http_server.ts); anything else is 404. */
const HEALTH_PATHS = ["/", "/worker"];

/** Every variable the worker or the agent reads. */
const KNOWN_VARS = new Set([
  ...OPTION_SPECS.flatMap((s) => (s.env ? [s.env] : [])),
  ...AGENT_ENV_VARS.flatMap((v) => v.name.split(/,\s*/)),
]);

Deno.test("Dockerfile: the binary's `start`, the health port exposed, SIGTERM, not root", () => {
  // Instructions, with continuation lines joined and comments dropped.
  const instructions = read("Dockerfile").replace(/\\\n/g, " ").split("\n")
    .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
  const last = (op: string) => instructions.findLast((i) => i.op === op)?.args;
  assertEquals(last("EXPOSE"), String(DEFAULT_HEALTH_PORT));
  assertEquals(last("STOPSIGNAL"), "SIGTERM");
  assertEquals(JSON.parse(last("CMD")!), ["start"]);
  assertEquals(JSON.parse(last("ENTRYPOINT")!), ["/app/exit-message"]);
  const user = last("USER");
  assert(user && user !== "root" && user !== "0", `runs as ${user}`);
  // The run stage is the slim base; the binary comes from the build stage's `deno task compile`.
  const froms = instructions.filter((i) => i.op === "FROM").map((i) => i.args);
  assertEquals(froms.at(-1), "debian:bookworm-slim");
  assert(instructions.some((i) => i.op === "RUN" && i.args.includes("deno task compile")));
  assert(!instructions.some((i) => i.op === "ENV" && /SECRET|API_KEY/.test(i.args)));
});

Deno.test("systemd unit: SIGTERM to the worker, stop timeout above drain + grace, `start`", () => {
  const unit = parseIni(read("exit-message.service")) as Record<string, Record<string, string>>;
  const service = unit.Service;
  assertEquals(service.KillSignal, "SIGTERM");
  // mixed: SIGTERM to the worker alone (it ends its job processes itself), SIGKILL to all last.
  assertEquals(service.KillMode, "mixed");
  assertGreater(Number(service.TimeoutStopSec), SHUTDOWN_BOUND_S);
  assert(service.ExecStart.endsWith(" start"), service.ExecStart);
  assertEquals(service.Restart, "on-failure");
  assert(service.User && service.User !== "root");
  assert(!Object.keys(service).some((k) => k === "Environment" && /SECRET/.test(service[k])));
});

Deno.test("Kubernetes Deployment: probes on the health port, grace above drain + grace, secrets from a Secret, requests from the density figures", () => {
  // deno-lint-ignore no-explicit-any
  const doc = parseYaml(read("kubernetes.yaml")) as any;
  assertEquals([doc.apiVersion, doc.kind], ["apps/v1", "Deployment"]);
  const pod = doc.spec.template.spec;
  assertGreater(pod.terminationGracePeriodSeconds, SHUTDOWN_BOUND_S);
  assertEquals(pod.containers.length, 1);
  const c = pod.containers[0];
  assertEquals(c.args, ["start"]);

  const env = new Map<string, { value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>(
    c.env.map((e: { name: string }) => [e.name, e]),
  );
  for (const name of env.keys()) assert(KNOWN_VARS.has(name), `${name} is read by nothing`);
  for (const name of ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]) {
    assertEquals(env.get(name)?.valueFrom?.secretKeyRef?.key, name, `${name} from the Secret`);
  }
  const port = Number(env.get("HEALTH_PORT")?.value ?? DEFAULT_HEALTH_PORT);
  const health = c.ports.find((p: { name: string }) => p.name === "health");
  assertEquals(health.containerPort, port);
  const annotations = doc.spec.template.metadata.annotations;
  assertEquals(Number(annotations["prometheus.io/port"]), port);
  assertEquals(annotations["prometheus.io/path"], "/metrics");
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const get = c[probe]?.httpGet;
    assert(get, `${probe} missing`);
    assert(get.port === "health" || get.port === port, `${probe} port ${get.port}`);
    assert(HEALTH_PATHS.includes(get.path), `${probe} path ${get.path}`);
  }
  // A LiveKit outage must not restart pods: liveness on /worker, readiness on / (503 when
  // disconnected).
  assertEquals(c.livenessProbe.httpGet.path, "/worker");
  assertEquals(c.readinessProbe.httpGet.path, "/");

  const maxJobs = Number(env.get("MAX_JOBS")?.value);
  const idle = Number(env.get("NUM_IDLE_PROCESSES")?.value);
  assert(maxJobs >= 1 && idle >= 0, "MAX_JOBS and NUM_IDLE_PROCESSES are stated");
  const requests = c.resources.requests;
  const cores = cpuCores(requests.cpu);
  const mib = memoryMib(requests.memory);
  const wantCores = BASE.cores + maxJobs * PER_CALL.cores;
  const wantMib = BASE.mainMib + BASE.inferenceMib + idle * BASE.idleProcessMib +
    maxJobs * PER_CALL.mib;
  assert(
    Math.abs(cores - wantCores) <= 0.1,
    `cpu request ${cores} cores; the density figures say ${wantCores}`,
  );
  assert(
    mib >= wantMib && mib <= wantMib * 1.1,
    `memory request ${mib} MiB; the density figures say ${wantMib}`,
  );
  assertEquals(c.resources.limits?.cpu, undefined, "a CPU limit throttles calls mid-sentence");
  assertGreater(memoryMib(c.resources.limits.memory), mib + PER_CALL.mib - 1);
});

function cpuCores(q: string | number): number {
  const s = String(q);
  return s.endsWith("m") ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

function memoryMib(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q}: use Mi or Gi`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

Deno.test("Grafana dashboard: every query parses as PromQL and names only metrics the worker serves; every metric is graphed", () => {
  const dashboard = JSON.parse(read("grafana_dashboard.json")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const served = new Set<string>(METRIC_NAMES);
  const histograms = new Set<string>(METRIC_NAMES.filter((n) => n.endsWith("_seconds")));
  const graphed = new Set<string>();
  for (const panel of dashboard.panels) {
    assert(panel.targets.length > 0, `panel "${panel.title}" has no query`);
    for (const { expr } of panel.targets) {
      for (const name of selectors(expr)) {
        // A histogram is queried through its _bucket, _sum and _count series.
        const base = name.replace(/_(bucket|sum|count)$/, "");
        const metric = served.has(name) ? name : histograms.has(base) ? base : undefined;
        if (!metric) {
          throw new Error(
            `panel "${panel.title}" queries ${name}, which the worker does not serve`,
          );
        }
        graphed.add(metric);
      }
    }
  }
  assertEquals([...served].filter((n) => !graphed.has(n)), [], "metrics no panel graphs");
});

/** The metric names a PromQL expression selects; throws where the PromQL grammar rejects it. */
function selectors(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) throw new Error(`not PromQL at ${node.from}: ${expr}`);
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") {
        names.push(expr.slice(node.from, node.to));
      }
    },
  });
  assert(names.length > 0, `no metric in ${expr}`);
  return names;
}
