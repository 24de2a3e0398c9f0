#!/usr/bin/env node
// `npm run test:faults`: the platform as `npm start` runs it, killed mid-run and started again.
// Boots `npm start` (wrangler dev, both Workers) on a fresh state folder, starts sync, stream and
// async runs of a slow agent, SIGKILLs the whole platform while they run, starts it again on the
// same state and checks that every run ends (failed or timed out, or — async runs still waiting —
// run to success) with its usage row, no concurrentRuns slot stays taken and nothing queued is
// lost. Prints how long each run took to end after the restart. Exits 1 on any failure.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const home = mkdtempSync(join(tmpdir(), "isoplane-faults-"));
const RUN_TIMEOUT_MS = 6000;
const SLOW_MS = 4000;
const log = (line) => process.stdout.write(`faults: ${line}\n`);
const fail = (why) => {
  throw new Error(why);
};

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const ports = { dispatcher: await freePort(), controlPlane: await freePort(), di: await freePort(), ci: await freePort() };
const DP = `http://127.0.0.1:${ports.dispatcher}`;
const CP = `http://127.0.0.1:${ports.controlPlane}`;

let platform = null;
function boot() {
  const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], {
    cwd: root,
    detached: true, // its own process group, so the kill takes wrangler and workerd with it
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ISOPLANE_HOME: home,
      ISOPLANE_DISPATCHER_PORT: String(ports.dispatcher),
      ISOPLANE_CONTROL_PLANE_PORT: String(ports.controlPlane),
      ISOPLANE_DISPATCHER_INSPECTOR_PORT: String(ports.di),
      ISOPLANE_CONTROL_PLANE_INSPECTOR_PORT: String(ports.ci),
      RUN_TIMEOUT_MS: String(RUN_TIMEOUT_MS),
    },
  });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (output.includes("isoplane is running")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`npm start did not come up in 90 s:\n${output.slice(-2000)}`)), 90_000).unref();
  });
  platform = child;
  return ready;
}

function kill() {
  if (!platform) return;
  try {
    process.kill(-platform.pid, "SIGKILL");
  } catch {}
  platform = null;
}

async function call(method, url, { token, body, type = "application/json" } = {}, expected) {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": type } : {}) },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (expected !== undefined && res.status !== expected) fail(`${method} ${url} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  log(`booting npm start on ${DP} and ${CP} (state in ${home})…`);
  await boot();
  const admin = readFileSync(join(home, "admin-token"), "utf8").trim();
  const tenant = await call("POST", `${CP}/admin/tenants`, { token: admin, body: { name: "faults" } }, 201);
  const { key } = await call("POST", `${CP}/admin/tenants/${tenant.id}/keys`, { token: admin, body: {} }, 201);
  await call("PATCH", `${CP}/admin/tenants/${tenant.id}`, { token: admin, body: { quotas: { concurrentRuns: 3 } } }, 200);
  const agent = `export default { async fetch(request, env) { await env.EMIT("agent.event", { started: true }); await new Promise((r) => setTimeout(r, ${SLOW_MS})); return Response.json({ done: true }); } };`;
  await call("PUT", `${CP}/v1/agents/slow/script`, { token: key, body: agent, type: "application/javascript+module" }, 201);

  // Sync and stream runs are going when the platform dies; async ones are running or waiting in the lane.
  const runUrl = `${DP}/v1/agents/slow/runs`;
  const sync = fetch(runUrl, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ input: 1 }) }).catch(() => null);
  const stream = await fetch(runUrl, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ input: 1, mode: "stream" }) });
  const streamId = stream.headers.get("x-isoplane-run-id");
  if (!streamId) fail("the stream run has no id");
  stream.body?.cancel().catch(() => {});
  const queued = [];
  for (let i = 0; i < 4; i++) queued.push((await call("POST", runUrl, { token: key, body: { input: i, mode: "async" } }, 202)).id);
  await sleep(1500);
  log("SIGKILL mid-run…");
  kill();
  void sync;
  await sleep(1000);

  log("starting again on the same state…");
  const restarted = Date.now();
  await boot();
  const up = Date.now();
  log(`up again after ${up - restarted} ms`);
  const ended = new Map();
  const deadline = Date.now() + 90_000;
  for (;;) {
    const page = await call("GET", `${CP}/admin/runs?tenant=${tenant.id}&limit=100`, { token: admin }, 200);
    for (const run of page.runs) {
      if (["queued", "running"].includes(run.status) || ended.has(run.id)) continue;
      ended.set(run.id, { status: run.status, error: run.error, ran: Date.parse(run.finishedAt) - Date.parse(run.startedAt ?? run.createdAt), finishedAt: Date.parse(run.finishedAt) });
    }
    const ids = new Set(page.runs.map((r) => r.id));
    if (ids.size >= 6 && page.runs.every((r) => ended.has(r.id))) break;
    if (Date.now() > deadline) fail(`runs still open 90 s after the restart: ${JSON.stringify(page.runs.map((r) => [r.id, r.status]))}`);
    await sleep(500);
  }
  const runs = [...ended.entries()];
  log(`every run ended after the restart (${runs.length} runs):`);
  for (const [id, r] of runs) log(`  ${id}  ${r.status.padEnd(9)} ended ${String(r.ran).padStart(6)} ms after it started, ${String(r.finishedAt - up).padStart(6)} ms after the platform was back  ${r.error ?? ""}`);
  for (const id of [streamId, ...queued]) if (!ended.has(id)) fail(`run ${id} is missing from the run index`);
  // A lost run ends at its budget plus the 5 s margin — or, if the platform was still down then, as soon as it is back.
  const margin = 5000 + 1500;
  for (const [id, r] of runs.filter(([, r]) => r.status === "failed")) {
    if (r.ran > RUN_TIMEOUT_MS + margin && r.finishedAt - up > 2500) fail(`lost run ${id} ended ${r.ran} ms after it started (budget ${RUN_TIMEOUT_MS} ms + margin)`);
  }
  if (queued.some((id) => ended.get(id).status === "queued")) fail("a queued run was lost");

  // Usage rows: one per run in the tenant's daily rollup.
  const day = new Date().toISOString().slice(0, 10);
  const usage = await call("GET", `${CP}/admin/tenants/${tenant.id}/usage?from=${day}&to=${day}`, { token: admin }, 200);
  const counted = usage.buckets.reduce((n, b) => n + b.runs, 0);
  if (counted !== runs.length) fail(`${counted} usage rows for ${runs.length} runs`);
  log(`usage rows: ${counted} for ${runs.length} runs`);

  // No slot stays taken: three runs at once still run (concurrentRuns: 3).
  const again = await Promise.all([0, 1, 2].map(() => call("POST", runUrl, { token: key, body: { input: "after" } })));
  if (!again.every((r) => r?.status === "succeeded")) fail(`after the restart, 3 concurrent runs did not all run: ${JSON.stringify(again.map((r) => r?.status ?? r?.type))}`);
  log("no slot stayed taken: 3 concurrent runs succeeded after the restart");
  log("✓ every interrupted run ended with its usage row, no slot stayed taken, nothing queued was lost");
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`faults: FAILED — ${err instanceof Error ? err.message : err}`);
  code = 1;
} finally {
  kill();
  rmSync(home, { recursive: true, force: true });
}
process.exit(code);
