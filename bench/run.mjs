#!/usr/bin/env node
// `npm run bench`: the platform's overhead per run, measured against baselines in the same runtime.
// All Workers run in one Miniflare/workerd process over a fresh D1 + R2 (queues delivered by
// Miniflare); tenants, keys and agents are created through the real HTTP API; load comes from
// autocannon. Baselines: the bare pass-through and the durability floor (bench/passthrough.ts).
// The dispatcher runs from bench/counted-dispatcher.ts, which counts its D1 calls in the runtime.
//
// Settings (environment): BENCH_SECONDS (10) per measured phase, BENCH_CONNECTIONS (32),
// BENCH_WARMUP_SECONDS (3), BENCH_TENANTS (10000) registered for the scale phase,
// BENCH_COLD_SAMPLES (5) fresh uploads timed, BENCH_SEQUENTIAL (300) one-connection requests,
// BENCH_D1_RUNS (200) sync runs per D1-counted workload, BENCH_D1_STREAM_RUNS (25) stream runs,
// each counted once on 1 connection and once on BENCH_D1_CONNECTIONS (8),
// BENCH_STREAM_WORDS (477) words of the long brief the stream workload answers from,
// BENCH_FAIRNESS_BACKLOG (1000) async runs tenant A queues, BENCH_FAIRNESS_SAMPLES (5) runs of B,
// BENCH_FAIRNESS_DRAIN_SECONDS (1200) longest wait for A's backlog to drain.
// Writes bench/results.md. Exits 1 if any request failed, a phase broke or the platform did not start.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleAgent } from "../tenant-template/build.mjs";
import { loadPhase, median, percentile } from "./load.mjs";
import { clockTicksPerSecond, startPlatform, toolVersions, workerdPids } from "./platform.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const setting = (name, fallback) => {
  const n = Number(process.env[name]);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};
const SECONDS = setting("BENCH_SECONDS", 10);
const CONNECTIONS = setting("BENCH_CONNECTIONS", 32);
const WARMUP = setting("BENCH_WARMUP_SECONDS", 3);
const TENANTS = setting("BENCH_TENANTS", 10_000);
const COLD_SAMPLES = setting("BENCH_COLD_SAMPLES", 5);
const SEQUENTIAL = setting("BENCH_SEQUENTIAL", 300);
const D1_RUNS = setting("BENCH_D1_RUNS", 200);
const D1_CONNECTIONS = setting("BENCH_D1_CONNECTIONS", 8);
const D1_STREAM_RUNS = setting("BENCH_D1_STREAM_RUNS", 25);
const STREAM_WORDS = setting("BENCH_STREAM_WORDS", 477);
const FAIRNESS_BACKLOG = setting("BENCH_FAIRNESS_BACKLOG", 1000);
const FAIRNESS_SAMPLES = setting("BENCH_FAIRNESS_SAMPLES", 5);
const FAIRNESS_DRAIN_SECONDS = setting("BENCH_FAIRNESS_DRAIN_SECONDS", 1200);
const BASE_TENANTS = 10;
const CREATE_CONCURRENCY = 64;
const SUBMIT_CONCURRENCY = 32;
const WARM_SAMPLES = 20;
const D1_WARMUP_RUNS = 5;
// The ledger consumer's batches wait up to max_batch_timeout (1 s): counters unchanged this long are settled.
const SETTLED_MS = 2500;
const LEDGER_TIMEOUT_MS = 60_000;
// Between B's runs in the fairness phase.
const FAIRNESS_SPACING_MS = 1000;
// The smallest relative change the tenant-scale comparison calls noise (see render()).
const NOISE_FLOOR = 0.1;

// Other processes or the hypervisor taking more than this share of a core make a phase noisy.
const BUSY_PERCENT = 20;

const TARGETS = { floorThroughputRatio: 0.8, addedP50OverFloorMs: 1, coldMs: 25, d1RoundTripsPerRun: 0.5, fairnessWaitMs: 1000 };

// Only the agent's own answer carries the marker, so finding it proves the agent ran and
// answered, whatever framing the platform's harness puts around the answer.
const AGENT_MARKER = "bench-agent-ok";
const AGENT_SOURCE = `export default {
  async fetch(request) {
    const { input } = await request.json();
    return Response.json({ ok: "${AGENT_MARKER}", input });
  },
};
`;
const INPUT = { question: "What is the platform's overhead?", n: 1 };

// tenant-template/examples/research.ts: a context document, a model tool loop (lookup + calculator),
// progress events and a result file. The built-in model echoes the last user message (the brief)
// and appends the tools' results, streamed a word at a time.
const RESEARCH_BRIEF = "# Brief\n\nSummarise how Isoplane runs agents on Workers: isolates, bindings, quotas.\n";
const RESEARCH_NOTE = "Workers run on V8 isolates.\n";
const RESEARCH_INPUT = { doc: "docs/brief.md", topic: "workers", a: 6, b: 7 };
const STREAM_INPUT = { doc: "docs/long.md", topic: "workers", a: 6, b: 7 };
const STREAM_VOCABULARY = (
  "isolates start in milliseconds and share one process while each tenant keeps its own memory bindings quotas " +
  "and egress policy the platform records every run durably streams its events and bills the usage it measured"
).split(" ");
/** A brief of `words` words: the streamed answer is this brief plus about fifteen words of tool results. */
const longBrief = (words) => Array.from({ length: words }, (_, i) => STREAM_VOCABULARY[i % STREAM_VOCABULARY.length]).join(" ") + "\n";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`bench: Node ${process.version} is too old for wrangler/miniflare (>= 22.12). Run it with \`npm run bench\`.`);
  process.exit(1);
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const workdir = mkdtempSync(join(tmpdir(), "isoplane-bench-"));
let platform;
async function cleanup() {
  await platform?.mf.dispose().catch(() => {});
  rmSync(workdir, { recursive: true, force: true });
}
process.on("SIGINT", () => cleanup().finally(() => process.exit(130)));

async function main() {
  const host = machine();
  const adminToken = `adm_${randomBytes(24).toString("base64url")}`;
  log("bundling the Workers and starting workerd…");
  platform = await startPlatform({ root, workdir, adminToken });
  const { urls } = platform;
  for (const url of Object.values(urls)) {
    if (new URL(url).hostname !== "127.0.0.1") throw new Error(`refusing to load a non-local target: ${url}`);
  }
  const pids = workerdPids();
  if (pids.length === 0) throw new Error("no workerd process found under this process");
  const cpu = { pids, ticksPerSecond: clockTicksPerSecond() };
  const api = client(urls, adminToken);
  const broken = [];

  log("creating the benchmark tenant, its key and agent through the API…");
  const { tenant, key } = await api.tenantWithKey("bench");
  const upload = await api.upload(key, "echo", AGENT_SOURCE);
  const fillers = await createTenants(api, BASE_TENANTS - 1);
  if (fillers.failed > 0) throw new Error(`${fillers.failed} tenant creations failed: ${fillers.firstError}`);

  const body = JSON.stringify({ input: INPUT });
  const dispatched = {
    url: `${urls.dispatcher}/v1/agents/echo/runs`,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
    verify: (text) => text.includes('"status":"succeeded"') && text.includes(AGENT_MARKER),
  };
  const passthrough = {
    url: `${urls.passthrough}/${tenant.id}/echo/${upload.version}/${upload.sha256}`,
    headers: { "content-type": "application/json" },
    body,
    verify: (text) => text.includes(AGENT_MARKER),
  };
  const floor = {
    url: `${urls.passthrough}/floor/${tenant.id}/echo/${upload.version}/${upload.sha256}`,
    headers: { "content-type": "application/json" },
    body,
    verify: (text) => text.includes('"status":"succeeded"') && text.includes(AGENT_MARKER),
  };
  // Every path must reach the agent and get its answer before anything is timed.
  const first = await api.run(key, "echo", INPUT);
  if (first.body.status !== "succeeded" || first.body.output?.ok !== AGENT_MARKER) {
    throw new Error(`the first dispatched run did not succeed: ${JSON.stringify(first.body)}`);
  }
  for (const [name, target] of [["pass-through", passthrough], ["floor", floor]]) {
    const direct = await fetch(target.url, { method: "POST", headers: target.headers, body });
    const directText = await direct.text();
    if (direct.status !== 200 || !target.verify(directText)) throw new Error(`${name} answered ${direct.status} ${directText.slice(0, 500)}`);
  }

  // D1 first, on a quiet platform: no ledger backlog from the load phases to wait out.
  const d1 = await d1Workloads(api, broken);

  const phases = [];
  const phase = async (name, target, options) => {
    log(`${name}: ${options.amount ? `${options.amount} requests` : `${options.seconds} s`}, ${options.connections} connection(s)…`);
    const result = await loadPhase(target, options);
    phases.push({ name, ...result });
    return result;
  };
  const loaded = { seconds: SECONDS, connections: CONNECTIONS, cpu };
  const warmup = { seconds: WARMUP, connections: CONNECTIONS };

  await phase("warm-up pass-through", passthrough, warmup);
  const pass10 = await phase("pass-through, 10 tenants", passthrough, loaded);
  await phase("warm-up floor", floor, warmup);
  const floor10 = await phase("floor, 10 tenants", floor, loaded);
  await phase("warm-up dispatched", dispatched, warmup);
  const disp10 = await phase("dispatched, 10 tenants", dispatched, loaded);
  // Measured twice: the spread is the dispatched path's own run-to-run noise (disk, SQLite).
  const disp10Again = await phase("dispatched, 10 tenants (repeat)", dispatched, loaded);
  const passSeq = await phase("pass-through, 1 connection", passthrough, { amount: SEQUENTIAL, connections: 1 });
  const floorSeq = await phase("floor, 1 connection", floor, { amount: SEQUENTIAL, connections: 1 });
  const dispSeq = await phase("dispatched, 1 connection", dispatched, { amount: SEQUENTIAL, connections: 1 });

  log(`cold starts: ${COLD_SAMPLES} fresh uploads, each timed on its first run…`);
  const cold = await coldStarts(api, key);

  let scale = null;
  if (TENANTS > BASE_TENANTS) {
    const count = TENANTS - BASE_TENANTS;
    log(`registering ${count} more tenants through POST /admin/tenants (${CREATE_CONCURRENCY} concurrent)…`);
    const started = performance.now();
    const created = await createTenants(api, count);
    const seconds = (performance.now() - started) / 1000;
    if (created.failed > 0) throw new Error(`${created.failed} of ${count} tenant creations failed: ${created.firstError}`);
    await phase("warm-up dispatched", dispatched, warmup);
    const dispN = await phase(`dispatched, ${TENANTS} tenants`, dispatched, loaded);
    const passN = await phase(`pass-through, ${TENANTS} tenants`, passthrough, loaded);
    const dispSeqN = await phase(`dispatched, 1 connection, ${TENANTS} tenants`, dispatched, { amount: SEQUENTIAL, connections: 1 });
    scale = { count, seconds, dispN, passN, dispSeqN };
  }

  // Last: the backlog keeps the runs queue busy until it drains.
  let fair;
  try {
    fair = await fairness(api);
  } catch (err) {
    fair = { error: err.message };
    broken.push(`fairness: ${err.message}`);
    log(`fairness FAILED: ${err.message}`);
  }

  const failed = phases.filter((p) => p.failed > 0);
  const report = render({ pass10, floor10, disp10, disp10Again, passSeq, floorSeq, dispSeq, cold, scale, d1, fair, phases, failed, broken, cpu, machine: host });
  writeFileSync(join(root, "bench", "results.md"), report);
  console.log(`\n${report}`);
  console.log("(written to bench/results.md)");
  if (failed.length > 0 || broken.length > 0) {
    const total = failed.reduce((n, p) => n + p.failed, 0);
    if (failed.length > 0) console.error(`\n!!! BENCHMARK INVALID: ${total} request(s) failed in ${failed.length} phase(s) — see "Failures" above. !!!`);
    for (const b of broken) console.error(`!!! BENCHMARK INCOMPLETE: ${b} !!!`);
    return 1;
  }
  return 0;
}

/** The Workers' HTTP APIs, with every unexpected answer turned into an error. */
function client(urls, adminToken) {
  const call = async (url, init, expected) => {
    const res = await fetch(url, init);
    const text = await res.text();
    if (res.status !== expected) throw new Error(`${init.method} ${url} → ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  };
  const runRequest = (key, agent, body) => ({
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const api = {
    admin: (method, path, json, expected) =>
      call(`${urls.controlPlane}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      }, expected),
    /** A new tenant and an API key for it. */
    async tenantWithKey(name) {
      const tenant = await api.admin("POST", "/admin/tenants", { name }, 201);
      const { key } = await api.admin("POST", `/admin/tenants/${tenant.id}/keys`, { name }, 201);
      return { tenant, key };
    },
    upload: (key, agent, source) =>
      call(`${urls.controlPlane}/v1/agents/${agent}/script`, {
        method: "PUT",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/javascript+module" },
        body: source,
      }, 201),
    /** A context document (what agents read with ctx.context.get). */
    putContext: (key, path, text) =>
      call(`${urls.dispatcher}/v1/context/${path}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${key}`, "content-type": "text/markdown" },
        body: text,
      }, 200),
    /** One dispatched sync run, timed from the client. */
    async run(key, agent, input) {
      const started = performance.now();
      const body = await call(`${urls.dispatcher}/v1/agents/${agent}/runs`, runRequest(key, agent, { input }), 200);
      return { ms: performance.now() - started, body };
    },
    /** One stream run, read to its end: its server-sent events. */
    async stream(key, agent, input) {
      const url = `${urls.dispatcher}/v1/agents/${agent}/runs`;
      const res = await fetch(url, runRequest(key, agent, { input, mode: "stream" }));
      const text = await res.text();
      if (res.status !== 200) throw new Error(`POST ${url} (stream) → ${res.status} ${text.slice(0, 500)}`);
      return { runId: res.headers.get("x-isoplane-run-id"), events: parseSse(text) };
    },
    /** Queues one async run; its id. */
    async queue(key, agent, input) {
      const body = await call(`${urls.dispatcher}/v1/agents/${agent}/runs`, runRequest(key, agent, { input, mode: "async" }), 202);
      return body.id;
    },
    getRun: (key, id) => call(`${urls.dispatcher}/v1/runs/${id}`, { method: "GET", headers: { authorization: `Bearer ${key}` } }, 200),
    /** The dispatcher's D1 counters (bench/counted-dispatcher.ts), summed over the isolates found. */
    d1Counts: async (reset = false) => {
      const { isolates } = await call(`${urls.dispatcher}/__bench/d1${reset ? "/reset" : ""}`, { method: reset ? "POST" : "GET" }, 200);
      return sumIsolates(isolates);
    },
  };
  return api;
}

/** Server-sent events of a finished stream: [{ id, event, data }]. */
function parseSse(text) {
  const events = [];
  for (const block of text.split("\n\n")) {
    let event = null;
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("id:")) id = Number(line.slice(3).trim());
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (event !== null) events.push({ id, event, data: data.length ? JSON.parse(data.join("\n")) : null });
  }
  return events;
}

function sumIsolates(isolates) {
  const sites = {};
  for (const { sites: counted } of isolates) {
    for (const [site, c] of Object.entries(counted)) {
      const into = (sites[site] ??= { statements: 0, roundTrips: 0, sql: {} });
      into.statements += c.statements;
      into.roundTrips += c.roundTrips;
      for (const [sql, n] of Object.entries(c.sql)) into.sql[sql] = (into.sql[sql] ?? 0) + n;
    }
  }
  return { isolates: isolates.length, sites };
}

// ---- D1 per run ----

/** Sites on a run's request path; the rest (ledger consumer, cron) is off it. */
const REQUEST_PATH_SITES = new Set(["worker", "TenantObject", "RunObject", "TenantStorage", "TenantLlm", "TenantEgress"]);
const OFF_PATH_SITES = new Set(["ledger consumer"]);

function splitCounts({ sites }) {
  const part = (pick) => {
    const out = { statements: 0, roundTrips: 0, sites: {} };
    for (const [site, c] of Object.entries(sites)) {
      if (!pick(site)) continue;
      out.statements += c.statements;
      out.roundTrips += c.roundTrips;
      out.sites[site] = c;
    }
    return out;
  };
  return {
    path: part((s) => REQUEST_PATH_SITES.has(s)),
    ledger: part((s) => OFF_PATH_SITES.has(s)),
    other: part((s) => !REQUEST_PATH_SITES.has(s) && !OFF_PATH_SITES.has(s)),
  };
}

const totalRoundTrips = (counts) => Object.values(counts.sites).reduce((n, c) => n + c.roundTrips, 0);

/** Runs of this tenant that ended, as the run index in D1 has them (read from Node, not counted). */
async function endedRuns(tenantId) {
  const row = await platform.db
    .prepare("SELECT COUNT(*) AS n FROM runs WHERE tenant_id = ?1 AND status NOT IN ('queued', 'running')")
    .bind(tenantId)
    .first();
  return Number(row?.n ?? 0);
}

/** Waits until the ledger consumer has written `expected` ended runs of the tenant to D1. */
async function ledgerDrained(tenantId, expected, timeoutMs = LEDGER_TIMEOUT_MS) {
  const started = performance.now();
  for (;;) {
    const n = await endedRuns(tenantId);
    if (n >= expected) return performance.now() - started;
    if (performance.now() - started > timeoutMs) {
      throw new Error(`the ledger queue did not deliver: ${n} of ${expected} ended runs of ${tenantId} in D1's run index after ${timeoutMs / 1000} s`);
    }
    await sleep(100);
  }
}

/** Waits until the D1 counters stop moving (the ledger consumer's last batch is in). */
async function countersSettled(api) {
  const started = performance.now();
  let last = -1;
  let since = performance.now();
  for (;;) {
    const now = totalRoundTrips(await api.d1Counts());
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= SETTLED_MS) return;
    if (performance.now() - started > LEDGER_TIMEOUT_MS) throw new Error("the D1 counters never settled");
    await sleep(250);
  }
}

/**
 * One D1-counted pass: the tenant's earlier runs' ledger rows drained, counters zeroed, `runs`
 * runs on `connections` connections, the ledger drained again and the counters read. Every D1
 * call in between is counted, wherever in the dispatcher it happened.
 */
async function countD1(api, { name, tenantId, runs, connections, once, before }) {
  log(`D1 per run, ${name}: ${runs} runs on ${connections} connection(s)…`);
  await ledgerDrained(tenantId, before);
  await countersSettled(api);
  await api.d1Counts(true);
  const started = performance.now();
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < runs) {
      next++;
      results.push(await once());
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, runs) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const drainMs = await ledgerDrained(tenantId, before + runs);
  await countersSettled(api);
  const counts = await api.d1Counts();
  return { name, runs, connections, seconds, drainMs, isolates: counts.isolates, ...splitCounts(counts), results };
}

/**
 * A workload on its own tenant: warm-up runs (a warm isolate and tenant object, as steady traffic
 * has), then counted on one connection and on D1_CONNECTIONS. D1's costs here are per second
 * more than per run (a key lookup per isolate each second, a ledger batch each second or 100
 * runs), so the rate matters: both passes are reported.
 */
async function workloadPasses(api, { name, tenantId, runs, once }) {
  for (let i = 0; i < D1_WARMUP_RUNS; i++) await once();
  const passes = [];
  let before = D1_WARMUP_RUNS;
  for (const connections of [...new Set([1, D1_CONNECTIONS])]) {
    const pass = await countD1(api, { name, tenantId, runs, connections, once, before });
    before += runs;
    passes.push(pass);
  }
  return passes;
}

/** Counters before the first reset: every site that touched D1 since the platform started. */
let d1Seen = null;

/** The three D1 workloads of issue #10; a broken one is reported, not fatal. */
async function d1Workloads(api, broken) {
  const out = [];
  const attempt = async (name, fn) => {
    try {
      out.push(...(await fn()));
    } catch (err) {
      out.push({ name, error: err.message });
      broken.push(`D1 per run, ${name}: ${err.message}`);
      log(`D1 per run, ${name} FAILED: ${err.message}`);
    }
  };

  await attempt("echo agent, sync", async () => {
    const { tenant, key } = await api.tenantWithKey("d1-echo");
    await api.upload(key, "echo", AGENT_SOURCE);
    // Before anything is zeroed: every site that has touched D1 since the platform started
    // (the tenant object's first reads included), proof that each site's calls reach the counters.
    const once = async () => {
      const { body } = await api.run(key, "echo", INPUT);
      if (body.status !== "succeeded" || body.output?.ok !== AGENT_MARKER) throw new Error(`echo run did not succeed: ${JSON.stringify(body).slice(0, 500)}`);
      return body.id;
    };
    await once();
    d1Seen = await api.d1Counts();
    const passes = await workloadPasses(api, { name: "echo agent, sync", tenantId: tenant.id, runs: D1_RUNS, once });
    // The ledger's rows, through the control plane's own reader of the run index.
    const listed = await api.admin("GET", `/admin/runs?tenant=${tenant.id}&limit=100`, undefined, 200);
    passes[0].adminListed = listed.runs.length;
    passes[0].adminExpected = Math.min(100, 1 + D1_WARMUP_RUNS + passes.length * D1_RUNS);
    return passes;
  });

  let research;
  try {
    research = await bundleAgent(join(root, "tenant-template", "examples", "research.ts"));
  } catch (err) {
    broken.push(`bundling tenant-template/examples/research.ts: ${err.message}`);
  }
  if (research) {
    await attempt("research agent, sync", async () => {
      const { tenant, key } = await api.tenantWithKey("d1-research");
      await api.upload(key, "research", research);
      await api.putContext(key, "docs/brief.md", RESEARCH_BRIEF);
      await api.putContext(key, "notes/workers.md", RESEARCH_NOTE);
      return workloadPasses(api, {
        name: "research agent, sync",
        tenantId: tenant.id,
        runs: D1_RUNS,
        once: async () => {
          const { body } = await api.run(key, "research", RESEARCH_INPUT);
          if (body.status !== "succeeded" || body.output?.calls?.length !== 2) throw new Error(`research run did not succeed: ${JSON.stringify(body).slice(0, 500)}`);
          return body.id;
        },
      });
    });

    await attempt("research agent, stream (long answer)", async () => {
      const { tenant, key } = await api.tenantWithKey("d1-stream");
      await api.upload(key, "research", research);
      await api.putContext(key, "docs/long.md", longBrief(STREAM_WORDS));
      await api.putContext(key, "notes/workers.md", RESEARCH_NOTE);
      const passes = await workloadPasses(api, {
        name: "research agent, stream (long answer)",
        tenantId: tenant.id,
        runs: D1_STREAM_RUNS,
        once: async () => {
          const { events } = await api.stream(key, "research", STREAM_INPUT);
          const last = events.at(-1);
          if (last?.event !== "run.completed" || last.data?.status !== "succeeded") {
            throw new Error(`stream run did not succeed: last event ${JSON.stringify(last).slice(0, 500)}`);
          }
          const summary = String(last.data.output?.summary ?? "");
          return { events: events.length, deltas: events.filter((e) => e.event === "llm.delta").length, words: summary.split(/\s+/).filter(Boolean).length };
        },
      });
      const results = passes.flatMap((p) => p.results);
      const events = results.map((r) => r.events);
      passes[0].sse = {
        runs: results.length,
        eventsMedian: median(events),
        eventsMin: Math.min(...events),
        eventsMax: Math.max(...events),
        deltas: median(results.map((r) => r.deltas)),
        words: median(results.map((r) => r.words)),
      };
      return passes;
    });
  }
  for (const w of out) delete w.results;
  return out;
}

// ---- fairness ----

/**
 * Tenant A queues a backlog of async runs of a fast agent; then tenant B queues one run at a
 * time. B's queue wait (startedAt − createdAt of its run record) shows whether B waits behind A.
 * Then A's backlog is waited out; D1 calls over the whole phase are counted too.
 */
async function fairness(api) {
  const a = await api.tenantWithKey("fairness-a");
  const b = await api.tenantWithKey("fairness-b");
  await api.upload(a.key, "fast", AGENT_SOURCE);
  await api.upload(b.key, "fast", AGENT_SOURCE);
  // Warm isolates and tenant objects, as a tenant with traffic has them.
  const warmups = [];
  for (const t of [a, b]) {
    const { body } = await api.run(t.key, "fast", INPUT);
    if (body.status !== "succeeded") throw new Error(`fairness warm-up run failed: ${JSON.stringify(body).slice(0, 500)}`);
    warmups.push(body.id);
  }
  /** One async run of B, polled until it ended: its queue wait from its record. */
  const bRun = async () => {
    const submitted = performance.now();
    const id = await api.queue(b.key, "fast", INPUT);
    let run;
    for (;;) {
      run = await api.getRun(b.key, id);
      if (run.status !== "queued" && run.status !== "running") break;
      if (performance.now() - submitted > 120_000) throw new Error(`tenant B's run ${id} had not ended after 120 s (status ${run.status})`);
      await sleep(20);
    }
    if (run.status !== "succeeded") throw new Error(`tenant B's run ${id} ended ${run.status}: ${run.error ?? ""}`);
    return { waitMs: Date.parse(run.startedAt) - Date.parse(run.createdAt), endToEndMs: performance.now() - submitted };
  };
  // Control: the same runs of B with no backlog anywhere — the queue's own delivery time.
  log(`fairness: tenant B queues ${FAIRNESS_SAMPLES} async runs on an idle queue (control)…`);
  const control = [];
  for (let i = 0; i < FAIRNESS_SAMPLES; i++) {
    if (i > 0) await sleep(FAIRNESS_SPACING_MS);
    control.push(await bRun());
  }
  await countersSettled(api);
  await api.d1Counts(true);

  log(`fairness: tenant A queues ${FAIRNESS_BACKLOG} async runs (${SUBMIT_CONCURRENCY} concurrent)…`);
  const submitStarted = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < FAIRNESS_BACKLOG) {
      next++;
      await api.queue(a.key, "fast", INPUT);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBMIT_CONCURRENCY, FAIRNESS_BACKLOG) }, worker));
  const submitSeconds = (performance.now() - submitStarted) / 1000;

  log(`fairness: tenant B queues ${FAIRNESS_SAMPLES} async runs, one at a time, behind A's backlog…`);
  const samples = [];
  for (let i = 0; i < FAIRNESS_SAMPLES; i++) {
    if (i > 0) await sleep(FAIRNESS_SPACING_MS);
    const sample = await bRun();
    // A's runs not yet ended (as the run index has them, up to a second behind).
    const aEnded = (await endedRuns(a.tenant.id)) - 1;
    samples.push({ ...sample, aBacklog: FAIRNESS_BACKLOG - aEnded });
  }

  log(`fairness: waiting for A's backlog to drain (at most ${FAIRNESS_DRAIN_SECONDS} s)…`);
  const drainStarted = performance.now();
  let lastLog = drainStarted;
  let ended = 0;
  for (;;) {
    ended = await endedRuns(a.tenant.id);
    if (ended >= FAIRNESS_BACKLOG + 1) break;
    if (performance.now() - drainStarted > FAIRNESS_DRAIN_SECONDS * 1000) break;
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      log(`fairness: ${ended - 1} of ${FAIRNESS_BACKLOG} of A's runs ended…`);
    }
    await sleep(500);
  }
  // The warm-up sync run is A's first ended run; the backlog is everything after it.
  const stats = await platform.db
    .prepare(
      `SELECT COUNT(*) AS n, SUM(status = 'succeeded') AS ok, MIN(created_at) AS first_created, MAX(finished_at) AS last_finished
       FROM runs WHERE tenant_id = ?1 AND id <> ?2 AND status NOT IN ('queued', 'running')`,
    )
    .bind(a.tenant.id, warmups[0])
    .first();
  const waits = (
    await platform.db
      .prepare("SELECT started_at - created_at AS wait FROM runs WHERE tenant_id = ?1 AND id <> ?2 AND started_at IS NOT NULL ORDER BY wait")
      .bind(a.tenant.id, warmups[0])
      .all()
  ).results.map((r) => Number(r.wait));
  const drained = ended >= FAIRNESS_BACKLOG + 1;
  let d1 = null;
  if (drained) {
    await countersSettled(api);
    d1 = splitCounts(await api.d1Counts());
  }
  const bWaits = samples.map((s) => s.waitMs).sort((x, y) => x - y);
  const controlWaits = control.map((s) => s.waitMs).sort((x, y) => x - y);
  return {
    backlog: FAIRNESS_BACKLOG,
    submitSeconds,
    samples,
    control,
    controlP50: percentile(controlWaits, 0.5),
    controlMax: Math.max(...controlWaits),
    bP50: percentile(bWaits, 0.5),
    bMax: Math.max(...bWaits),
    drained,
    endedAfterWait: ended - 1,
    drainSeconds: stats?.last_finished && stats?.first_created ? (Number(stats.last_finished) - Number(stats.first_created)) / 1000 : NaN,
    succeeded: Number(stats?.ok ?? 0),
    aWaitP50: percentile(waits, 0.5),
    aWaitMax: waits.length ? waits[waits.length - 1] : NaN,
    runsCounted: FAIRNESS_BACKLOG + FAIRNESS_SAMPLES,
    d1,
  };
}

/** Creates `count` tenants through the admin API, a bounded number at a time. */
async function createTenants(api, count) {
  let next = 0;
  let failed = 0;
  let firstError;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        await api.admin("POST", "/admin/tenants", { name: `filler-${i}` }, 201);
      } catch (err) {
        failed++;
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, worker));
  return { failed, firstError };
}

/**
 * First run of a freshly uploaded version (a new content hash, so a new isolate that must load
 * the bundle from R2 and compile it) against warm runs of the same version.
 */
async function coldStarts(api, key) {
  const firsts = [];
  const serverFirsts = [];
  const warm = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const upload = await api.upload(key, "cold", `${AGENT_SOURCE}// ${randomBytes(8).toString("hex")}\n`);
    const run = await api.run(key, "cold", INPUT);
    if (run.body.status !== "succeeded" || run.body.version !== upload.version) {
      throw new Error(`cold run ${i} did not succeed on version ${upload.version}: ${JSON.stringify(run.body)}`);
    }
    firsts.push(run.ms);
    serverFirsts.push(run.body.usage?.wallMs);
  }
  for (let i = 0; i < WARM_SAMPLES; i++) {
    const run = await api.run(key, "cold", INPUT);
    if (run.body.status !== "succeeded") throw new Error(`warm run did not succeed: ${JSON.stringify(run.body)}`);
    warm.push(run.ms);
  }
  return { firsts, serverFirsts, first: median(firsts), firstMax: Math.max(...firsts), warm: median(warm) };
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const tools = toolVersions(root);
  const autocannon = JSON.parse(readFileSync(join(root, "node_modules", "autocannon", "package.json"), "utf8")).version;
  return {
    cpu: model,
    cores: cpus().length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `Linux ${release()}`,
    node: process.version,
    workerd: tools.workerd,
    tools: `Miniflare ${tools.miniflare}, wrangler ${tools.wrangler}, autocannon ${autocannon}`,
    date: new Date().toISOString(),
  };
}

// ---- report ----

const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a");
const ms = (n) => `${fmt(n, Math.abs(n) < 10 ? 2 : 1)} ms`;
const plusMs = (n) => `${n < 0 ? "−" : "+"}${ms(Math.abs(n))}`;
const rps = (n) => `${fmt(n, 0)} req/s`;
const pct = (n) => `${n >= 0 ? "+" : ""}${fmt(n * 100, 1)} %`;
const mark = (ok) => (ok ? "✅ met" : "❌ missed");
const change = (before, after) => after / before - 1;

function table(header, rows) {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => " --- ").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

const cell = (text) => String(text).replace(/\|/g, "\\|");
const perRun = (n, runs) => fmt(n / runs, n / runs < 0.1 && n > 0 ? 3 : 2);
const seconds = (n) => `${fmt(n, 1)} s`;

function render({ pass10, floor10, disp10, disp10Again, passSeq, floorSeq, dispSeq, cold, scale, d1, fair, phases, failed, broken, cpu, machine }) {
  const out = [];
  out.push("# Isoplane benchmark");
  out.push("");
  const busy = phases.filter((p) => (p.otherCpuPercent ?? 0) > BUSY_PERCENT || (p.stealPercent ?? 0) > BUSY_PERCENT);
  if (busy.length > 0) {
    out.push(
      `> **Noisy machine:** other work used more than ${BUSY_PERCENT} % of a core during ${busy.map((p) => `"${p.name}"`).join(", ")} ` +
        `(see "other processes" and "steal" under Phases); those figures are lower than an idle machine would give.`,
    );
    out.push("");
  }
  if (failed.length > 0) {
    out.push(`> **INVALID RUN: ${failed.reduce((n, p) => n + p.failed, 0)} request(s) failed.** The figures below do not measure successful runs; see "Failures".`);
    out.push("");
  }
  for (const b of broken) {
    out.push(`> **INCOMPLETE: ${b}**`);
    out.push("");
  }
  out.push(
    `Generated by \`npm run bench\` (bench/run.mjs). All Workers run in one workerd process (Miniflare API, no \`wrangler dev\` proxy) over a fresh local D1 and R2, ` +
      `with the dispatcher's queues produced and consumed by Miniflare; the agent is a one-line echo unless stated, so the figures are the platform's own cost. Two baselines run in the same runtime (bench/passthrough.ts): ` +
      `the **pass-through** boots the same agent version with the dispatcher's LocalRuntime (same bundle, harness and isolate cache) and forwards the same run request — no auth, admission, record or result write; ` +
      `the **floor** adds exactly the durable writes a run cannot do without — one Durable Object SQLite write when it starts, one when it ends (in one of the tenant's 16 objects, chosen by run id as the dispatcher chooses its run objects), one R2 put of the output — and nothing else. ` +
      `The dispatcher runs from bench/counted-dispatcher.ts: dispatcher/src/index.ts unchanged, with its D1 binding wrapped to count calls (a Proxy per binding, no I/O). ` +
      `Load: autocannon, ${CONNECTIONS} connections, ${SECONDS} s per phase after a ${WARMUP} s warm-up, on 127.0.0.1; latencies are client-side.`,
  );
  out.push("");
  out.push(
    table(["machine", ""], [
      ["CPU", `${machine.cpu} (${machine.cores} cores)`],
      ["memory", machine.memory],
      ["OS", machine.os],
      ["Node", machine.node],
      ["workerd", machine.workerd],
      ["tools", machine.tools],
      ["date", machine.date],
    ]),
  );
  out.push("");

  // ---- targets ----
  const floorRatio = disp10.throughput / floor10.throughput;
  const addedSeq = dispSeq.p50 - floorSeq.p50;
  const d1Ok = (w) => !w.error && totalPerRun(w) < TARGETS.d1RoundTripsPerRun;
  out.push("## Targets");
  out.push("");
  const targetRows = [
    [`dispatched throughput vs the floor (${BASE_TENANTS} tenants, ${CONNECTIONS} connections)`, `${fmt(floorRatio, 2)}× (${rps(disp10.throughput)} vs ${rps(floor10.throughput)})`, `≥ ${TARGETS.floorThroughputRatio}×`, mark(floorRatio >= TARGETS.floorThroughputRatio)],
    ["added p50 over the floor, 1 connection (unloaded)", `${plusMs(addedSeq)} (${ms(dispSeq.p50)} vs ${ms(floorSeq.p50)})`, `≤ ${TARGETS.addedP50OverFloorMs} ms`, mark(addedSeq <= TARGETS.addedP50OverFloorMs)],
    ...d1.map((w) => [
      `D1 round trips per run: ${w.name}${w.error ? "" : `, ${w.connections} connection${w.connections === 1 ? "" : "s"}`}`,
      w.error ? `failed: ${cell(w.error)}` : `${perRun(totalRoundTripsOf(w), w.runs)} (request path ${perRun(w.path.roundTrips, w.runs)}, ledger ${perRun(w.ledger.roundTrips, w.runs)}; ${fmt(w.runs / w.seconds, 0)} runs/s)`,
      `< ${TARGETS.d1RoundTripsPerRun}`,
      w.error ? "❌ failed" : mark(d1Ok(w)),
    ]),
    fair.error
      ? ["tenant B's queue wait behind A's backlog", `failed: ${cell(fair.error)}`, `≤ ${TARGETS.fairnessWaitMs} ms`, "❌ failed"]
      : [`tenant B's queue wait behind ${fair.backlog.toLocaleString("en-US")} queued runs of A (p50 / max of ${fair.samples.length})`, `${ms(fair.bP50)} / ${ms(fair.bMax)}`, `≤ ${fmt(TARGETS.fairnessWaitMs / 1000, 0)} s`, mark(fair.bMax <= TARGETS.fairnessWaitMs)],
    [`cold: first run of a fresh upload (median of ${cold.firsts.length})`, ms(cold.first), `≤ ${TARGETS.coldMs} ms`, mark(cold.first <= TARGETS.coldMs)],
  ];
  if (scale) targetRows.push([`${TENANTS.toLocaleString("en-US")} vs ${BASE_TENANTS} tenants registered: dispatched throughput`, pct(change(disp10.throughput, scale.dispN.throughput)), "no change beyond noise", scaleVerdict(scale, disp10, disp10Again, pass10, "throughput")]);
  out.push(table(["", "measured", "target", ""], targetRows));
  out.push("");

  // ---- vs baselines ----
  const passRatio = disp10.throughput / pass10.throughput;
  out.push(`## Dispatched runs vs the floor and the pass-through (${BASE_TENANTS} tenants)`);
  out.push("");
  const vs = (d, b) => `${plusMs(d - b)} (${fmt(d / b, 2)}×)`;
  out.push(
    table(["", "dispatched", "floor", "pass-through", "dispatched vs floor", "target", "", "dispatched vs pass-through"], [
      ["throughput", rps(disp10.throughput), rps(floor10.throughput), rps(pass10.throughput), `${fmt(floorRatio, 2)}×`, `≥ ${TARGETS.floorThroughputRatio}×`, mark(floorRatio >= TARGETS.floorThroughputRatio), `${fmt(passRatio, 2)}×`],
      ["p50 latency", ms(disp10.p50), ms(floor10.p50), ms(pass10.p50), vs(disp10.p50, floor10.p50), "—", "", vs(disp10.p50, pass10.p50)],
      ["p99 latency", ms(disp10.p99), ms(floor10.p99), ms(pass10.p99), vs(disp10.p99, floor10.p99), "—", "", vs(disp10.p99, pass10.p99)],
      ["platform CPU per run", ms(disp10.cpuMsPerRun), ms(floor10.cpuMsPerRun), ms(pass10.cpuMsPerRun), vs(disp10.cpuMsPerRun, floor10.cpuMsPerRun), "—", "", vs(disp10.cpuMsPerRun, pass10.cpuMsPerRun)],
      ["p50, 1 connection (unloaded)", ms(dispSeq.p50), ms(floorSeq.p50), ms(passSeq.p50), plusMs(addedSeq), `added ≤ ${TARGETS.addedP50OverFloorMs} ms`, mark(addedSeq <= TARGETS.addedP50OverFloorMs), plusMs(dispSeq.p50 - passSeq.p50)],
      ["p99, 1 connection (unloaded)", ms(dispSeq.p99), ms(floorSeq.p99), ms(passSeq.p99), plusMs(dispSeq.p99 - floorSeq.p99), "—", "", plusMs(dispSeq.p99 - passSeq.p99)],
    ]),
  );
  out.push("");
  out.push(
    `Platform CPU is workerd's utime + stime (/proc/<pid>/stat, ${cpu.ticksPerSecond} ticks/s) over the measured phase divided by the responses in it; ` +
      `it includes everything workerd (${cpu.pids.length} process${cpu.pids.length === 1 ? "" : "es"}) does for a run — the Workers, the tenant isolate, Durable Objects, queues, local D1 (SQLite) and R2. ` +
      `The floor's cost over the pass-through is the durable writes (${plusMs(floor10.cpuMsPerRun - pass10.cpuMsPerRun)} CPU, ${plusMs(floorSeq.p50 - passSeq.p50)} unloaded p50); ` +
      `the dispatcher's over the floor is everything else it does (auth, validation, admission, the event log, usage, the ledger row): ${plusMs(disp10.cpuMsPerRun - floor10.cpuMsPerRun)} CPU, ${plusMs(addedSeq)} unloaded p50. ` +
      `The load generator shares the machine: it used ${fmt(disp10.clientCpuPercent, 0)} % of a core during the dispatched phase, ${fmt(floor10.clientCpuPercent, 0)} % during the floor's. ` +
      `With ${CONNECTIONS} connections kept busy, latency is mostly queueing (p50 ≈ connections ÷ throughput); the 1-connection rows (${SEQUENTIAL} sequential requests each) show what one request costs on an idle platform.`,
  );
  out.push("");

  // ---- D1 ----
  out.push("## D1 per run");
  out.push("");
  out.push(
    table(["workload", "connections", "runs", "runs/s", "request path: statements / run", "request path: round trips / run", "ledger consumer: statements / run", "ledger consumer: round trips / run", "total round trips / run", "target", ""], d1.map((w) =>
      w.error
        ? [w.name, "—", "—", "—", "—", "—", "—", "—", `failed: ${cell(w.error)}`, `< ${TARGETS.d1RoundTripsPerRun}`, "❌ failed"]
        : [
            w.name,
            String(w.connections),
            String(w.runs),
            fmt(w.runs / w.seconds, 1),
            perRun(w.path.statements, w.runs),
            perRun(w.path.roundTrips, w.runs),
            perRun(w.ledger.statements, w.runs),
            perRun(w.ledger.roundTrips, w.runs),
            perRun(totalRoundTripsOf(w), w.runs),
            `< ${TARGETS.d1RoundTripsPerRun}`,
            mark(d1Ok(w)),
          ],
    )),
  );
  out.push("");
  const ok = d1.filter((w) => !w.error);
  const isolates = [...new Set(ok.map((w) => w.isolates))];
  const echo = ok.find((w) => w.adminListed !== undefined);
  const stream = ok.find((w) => w.sse);
  out.push(
    `Counted inside workerd by bench/counted-dispatcher.ts: \`prepare(…).run/all/first/raw\` is one statement and one round trip, \`batch([…])\` its statements and one round trip. ` +
      `Each workload has its own tenant; after ${D1_WARMUP_RUNS} warm-up runs (a warm isolate and tenant object, as steady traffic has) and a drained ledger, the counters are zeroed, ` +
      `the runs are made (one pass on 1 connection, one on ${D1_CONNECTIONS}), and the counters are read once every run's ledger row is in D1's run index and the counters have not moved for ${fmt(SETTLED_MS / 1000, 1)} s. ` +
      `Per run figures are totals ÷ runs. **Request path**: the fetch handler (key lookup, cached 1 s per isolate), the tenant's and the run's Durable Objects and the bindings tenant isolates call; ` +
      `**ledger consumer**: the \`isoplane-ledger\` queue's batches (run index, usage and daily rollups; a batch waits up to 1 s or 100 runs), off the path. ` +
      `Both costs are per second rather than per run — at most about one key lookup per isolate and key and one ledger batch each second while runs flow — so the figure per run falls as the rate rises; slow runs one at a time are the worst case. ` +
      `Counters were found in ${isolates.join("/") || "?"} isolate(s) (the Worker's fetch handler, a TenantObject and a RunObject were asked; the same isolate answers for all under workerd, so module-global counters see every site).` +
      (d1Seen ? ` Before the first reset (platform start, one run on a fresh tenant) the counters had seen: ${Object.entries(d1Seen.sites).map(([site, c]) => `${site} ${c.roundTrips}`).join(", ")} round trips — the Durable Objects' calls (a cold TenantObject reads the tenant and its agent) reach the same counters.` : "") +
      (echo ? ` Ledger delivery: the control plane's \`GET /admin/runs\` lists ${echo.adminListed} of the echo tenant's runs (first page of 100; ${echo.adminExpected} expected), read from D1 by the ledger consumer's writes.` : "") +
      ` Queues configured in this Miniflare from wrangler.toml: ${Object.entries(platform.queues.producers).map(([b, q]) => `${b} → ${q.queueName}`).join(", ")}; consumers ${Object.entries(platform.queues.consumers).map(([q, c]) => `${q} (batch ≤ ${c.maxBatchSize}, ${c.maxBatchTimeout} s)`).join(", ")}.`,
  );
  out.push("");
  if (stream) {
    out.push(
      `The stream workload answers from a ${STREAM_WORDS}-word brief (docs/long.md), so the built-in model streams a long answer a word at a time: ` +
        `${fmt(stream.sse.eventsMedian, 0)} SSE events per run (median of ${stream.sse.runs}; ${stream.sse.eventsMin}–${stream.sse.eventsMax}), ${fmt(stream.sse.deltas, 0)} of them \`llm.delta\`, ` +
        `an answer of ${fmt(stream.sse.words, 0)} words. The research workloads read two context documents, call the model twice (tools \`lookup\` and \`calculator\`) and write a result file per run.`,
    );
    out.push("");
  }
  const silent = [...REQUEST_PATH_SITES].filter((site) => ok.every((w) => !w.path.sites[site]));
  if (silent.length) {
    out.push(`No D1 call at all during the counted runs from: ${silent.join(", ")}.`);
    out.push("");
  }
  const rows = [];
  for (const w of ok) {
    for (const part of ["path", "ledger", "other"]) {
      for (const [site, c] of Object.entries(w[part].sites)) {
        const statements = Object.entries(c.sql).sort((x, y) => y[1] - x[1]).slice(0, 4).map(([sql, n]) => `${n}× \`${cell(sql.length > 110 ? `${sql.slice(0, 107)}...` : sql)}\``).join("<br>");
        rows.push([`${w.name}, ${w.connections} conn.`, site, String(c.roundTrips), String(c.statements), statements]);
      }
    }
    rows.push([`${w.name}, ${w.connections} conn.`, "(time)", "", "", `${w.runs} runs in ${seconds(w.seconds)}; last ledger row in D1 ${ms(w.drainMs)} after the last run`]);
  }
  if (rows.length) {
    out.push("Where the round trips were made (totals over the workload; the most frequent round trips by their SQL):");
    out.push("");
    out.push(table(["workload", "site", "round trips", "statements", "round trips by SQL"], rows));
    out.push("");
  }

  // ---- fairness ----
  out.push("## Fairness");
  out.push("");
  if (fair.error) {
    out.push(`The fairness phase failed: ${fair.error}`);
  } else {
    const b = fair.samples;
    out.push(
      table(["", "measured", "target", ""], [
        [`tenant B's queue wait (startedAt − createdAt), p50 of ${b.length}`, ms(fair.bP50), `≤ ${fmt(TARGETS.fairnessWaitMs / 1000, 0)} s`, mark(fair.bP50 <= TARGETS.fairnessWaitMs)],
        [`tenant B's queue wait, max of ${b.length}`, ms(fair.bMax), `≤ ${fmt(TARGETS.fairnessWaitMs / 1000, 0)} s`, mark(fair.bMax <= TARGETS.fairnessWaitMs)],
        ["tenant B's waits", b.map((x) => ms(x.waitMs)).join(", "), "—", ""],
        [`control: tenant B's queue wait with no backlog anywhere, p50 / max of ${fair.control.length}`, `${ms(fair.controlP50)} / ${ms(fair.controlMax)} (${fair.control.map((x) => ms(x.waitMs)).join(", ")})`, "—", ""],
        ["B's wait behind the backlog − without it (p50)", plusMs(fair.bP50 - fair.controlP50), "—", ""],
        ["tenant B: queued → ended seen by polling GET /v1/runs/{id} (p50)", ms(median(b.map((x) => x.endToEndMs))), "—", ""],
        ["A's runs not yet ended when each B run ended", b.map((x) => String(x.aBacklog)).join(", "), "—", ""],
        [`A: ${fair.backlog.toLocaleString("en-US")} async runs queued in`, `${seconds(fair.submitSeconds)} (${SUBMIT_CONCURRENCY} concurrent requests)`, "—", ""],
        [
          "A's backlog drained in (first created → last finished)",
          fair.drained ? `${seconds(fair.drainSeconds)} (${fmt(fair.backlog / fair.drainSeconds, 1)} runs/s; ${fair.succeeded} succeeded)` : `not drained: ${fair.endedAfterWait} of ${fair.backlog} ended after ${FAIRNESS_DRAIN_SECONDS} s`,
          "—",
          "",
        ],
        ["A's own queue waits, p50 / max", `${seconds(fair.aWaitP50 / 1000)} / ${seconds(fair.aWaitMax / 1000)}`, "—", ""],
        ...(fair.d1
          ? [[`D1 per async run over the phase (${fair.runsCounted} runs)`, `request path ${perRun(fair.d1.path.roundTrips, fair.runsCounted)} round trips (${perRun(fair.d1.path.statements, fair.runsCounted)} statements), ledger ${perRun(fair.d1.ledger.roundTrips, fair.runsCounted)}, runs consumer ${perRun(fair.d1.other.sites["runs consumer"]?.roundTrips ?? 0, fair.runsCounted)}`, "—", ""]]
          : []),
      ]),
    );
    out.push("");
    const runsQueue = Object.entries(platform.queues.consumers).find(([q]) => !q.endsWith("-ledger"));
    out.push(
      `Tenant A (agent: the echo) queues ${fair.backlog.toLocaleString("en-US")} runs with \`"mode":"async"\`; then tenant B queues one run at a time, ${fmt(FAIRNESS_SPACING_MS / 1000, 0)} s apart, each polled until it ended; ` +
        `its queue wait (startedAt − createdAt) is read from its run record (GET /v1/runs/{id}). The control runs the same B runs before A queues anything, so it is the queue's own delivery time: ` +
        `${runsQueue ? `the runs queue (${runsQueue[0]}) delivers a batch at ${runsQueue[1].maxBatchSize} messages or ${runsQueue[1].maxBatchTimeout} s after its first, and` : "and"} ` +
        `A's runs wait in A's own lane (its TenantObject), which offers the shared queue a few at a time. The D1 row counts B's status polls too (their key lookups).`,
    );
  }
  out.push("");

  // ---- cold ----
  out.push("## Cold start");
  out.push("");
  out.push(
    table(["", "client latency", "target", ""], [
      [`first run of a freshly uploaded script (median of ${cold.firsts.length})`, `${ms(cold.first)} (max ${ms(cold.firstMax)})`, `≤ ${TARGETS.coldMs} ms`, mark(cold.first <= TARGETS.coldMs)],
      [`warm run of the same script (median of ${WARM_SAMPLES})`, ms(cold.warm), "—", ""],
      ["cold − warm", plusMs(cold.first - cold.warm), "—", ""],
    ]),
  );
  out.push("");
  out.push(
    `Each sample uploads a new version (new content hash → new isolate: bundle read from R2, modules compiled) through PUT /v1/agents/cold/script and times its first POST …/runs; ` +
      `server-side wallMs of those first runs: ${cold.serverFirsts.join(", ")} ms.`,
  );
  out.push("");

  if (scale) {
    const { dispN, passN, dispSeqN } = scale;
    const verdict = (metric) => scaleVerdict(scale, disp10, disp10Again, pass10, metric);
    out.push(`## ${BASE_TENANTS} vs ${TENANTS.toLocaleString("en-US")} tenants registered`);
    out.push("");
    out.push(
      table(["dispatched", `${BASE_TENANTS} tenants`, `${TENANTS.toLocaleString("en-US")} tenants`, "change", "target: no change beyond noise"], [
        ["throughput", rps(disp10.throughput), rps(dispN.throughput), pct(change(disp10.throughput, dispN.throughput)), verdict("throughput")],
        ["throughput, repeat at 10 tenants (noise)", rps(disp10.throughput), rps(disp10Again.throughput), pct(change(disp10.throughput, disp10Again.throughput)), ""],
        ["p50 latency", ms(disp10.p50), ms(dispN.p50), pct(change(disp10.p50, dispN.p50)), verdict("p50")],
        ["p99 latency", ms(disp10.p99), ms(dispN.p99), pct(change(disp10.p99, dispN.p99)), verdict("p99")],
        ["platform CPU per run", ms(disp10.cpuMsPerRun), ms(dispN.cpuMsPerRun), pct(change(disp10.cpuMsPerRun, dispN.cpuMsPerRun)), ""],
        ["p50, 1 connection (unloaded)", ms(dispSeq.p50), ms(dispSeqN.p50), pct(change(dispSeq.p50, dispSeqN.p50)), ""],
        ["pass-through throughput (machine drift)", rps(pass10.throughput), rps(passN.throughput), pct(change(pass10.throughput, passN.throughput)), ""],
        ["pass-through p50 (machine drift)", ms(pass10.p50), ms(passN.p50), pct(change(pass10.p50, passN.p50)), ""],
      ]),
    );
    out.push("");
    out.push(
      `The ${scale.count.toLocaleString("en-US")} extra tenants were created through POST /admin/tenants, ${CREATE_CONCURRENCY} at a time, in ${fmt(scale.seconds, 1)} s ` +
        `(${fmt(scale.count / scale.seconds, 0)}/s). Noise, per metric, is the largest of ${NOISE_FLOOR * 100} %, the dispatched path's change between its two 10-tenant runs ` +
        `and the pass-through's change between its 10- and ${TENANTS.toLocaleString("en-US")}-tenant runs; only a change for the worse counts. ` +
        `Only tenants were added (no keys or agents for them); the runs table and R2 also grew by every run of the earlier phases.`,
    );
    out.push("");
  }

  out.push("## Phases");
  out.push("");
  const percent = (n) => (n === null ? "—" : `${fmt(n, 0)} %`);
  out.push(
    table(["phase", "responses", "200", "req/s", "p50", "p99", "workerd CPU/run", "workerd", "load generator", "other processes", "steal", "failed"], phases.map((p) => [
      p.name,
      String(p.responses),
      String(p.statuses["200"] ?? 0),
      p.throughput === null ? "—" : fmt(p.throughput, 0),
      ms(p.p50),
      ms(p.p99),
      p.cpuMsPerRun === null ? "—" : ms(p.cpuMsPerRun),
      percent(p.cpuPercent),
      percent(p.clientCpuPercent),
      percent(p.otherCpuPercent),
      percent(p.stealPercent),
      String(p.failed),
    ])),
  );
  out.push("");
  out.push(
    `CPU columns are in % of one core over the phase (the machine has ${machine.cores}): workerd, this Node process (autocannon), the rest of the machine ` +
      `(/proc/stat busy time minus those two) and time stolen by the hypervisor. CPU is sampled in measured phases only.`,
  );
  out.push("");
  if (failed.length > 0) {
    out.push("## Failures");
    out.push("");
    out.push(
      table(["phase", "non-200", "errors", "timeouts", "wrong body", "status codes"], failed.map((p) => [
        p.name,
        String(p.failures.non200),
        String(p.failures.errors),
        String(p.failures.timeouts),
        String(p.failures.mismatches),
        JSON.stringify(p.statuses),
      ])),
    );
    out.push("");
  }
  return `${out.join("\n")}\n`;
}

/** All round trips of a workload (request path, ledger consumer, anything else). */
function totalRoundTripsOf(w) {
  return w.path.roundTrips + w.ledger.roundTrips + w.other.roundTrips;
}
const totalPerRun = (w) => totalRoundTripsOf(w) / w.runs;

/**
 * Noise, per metric: the dispatched path's spread between its two 10-tenant runs, and how far the
 * machine itself drifted (the pass-through's change between its two runs), never under NOISE_FLOOR.
 */
function scaleVerdict(scale, disp10, disp10Again, pass10, metric) {
  const passMetric = metric === "throughput" || metric === "p50" || metric === "p99" ? metric : "throughput";
  const band = Math.max(NOISE_FLOOR, Math.abs(change(disp10[metric], disp10Again[metric])), Math.abs(change(pass10[passMetric], scale.passN[passMetric])));
  const c = change(disp10[metric], scale.dispN[metric]);
  // Only a change for the worse counts against the target.
  const worse = metric === "throughput" ? -c : c;
  return worse <= band ? `✅ within noise (±${fmt(band * 100, 0)} %)` : `❌ beyond noise (±${fmt(band * 100, 0)} %)`;
}

// Last, so every declaration above is initialised before the top-level await runs.
try {
  process.exitCode = await main();
} catch (err) {
  console.error(`\nbench: FAILED — ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
