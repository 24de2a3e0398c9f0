#!/usr/bin/env node
// `npm run test:models`: the model gateway end to end, through `npm start` as a user runs it.
// Serves an OpenAI-compatible and an Anthropic Messages endpoint on loopback (the wire-format
// fakes the Worker tests use, test/fakes/), starts the platform with LLM_PROVIDERS naming both,
// and runs one agent whose single run calls both providers (streamed and not), the built-in model,
// and a model whose provider answers 503 (retried, then served by its fallback), then a provider
// that only takes the tenant's own key. Also checks that `npm start` refuses a bad LLM_PROVIDERS,
// and one naming a secret that is not set, with the reason. Exits 1 on any failure.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODEL_CALLER as AGENT } from "../test/agents.ts";
import { fakeAnthropic, FAKE_ANTHROPIC_KEY } from "../test/fakes/anthropic.ts";
import { FAKE_LLM_KEY, fakeOpenAI } from "../test/fakes/openai.ts";
import { call, freePort, root, runMain, startPlatform } from "./platform-process.mjs";

const log = (line) => process.stdout.write(`models: ${line}\n`);
const fail = (why) => {
  throw new Error(why);
};
const homes = [];
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), "isoplane-models-"));
  homes.push(dir);
  return dir;
};

/** A fetch-style handler (Request → Response) served over node:http on a loopback port. */
async function serve(handler) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])),
      ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
    });
    const response = await handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** `npm start` with this environment, expected to refuse to start: resolves with what it printed. */
function refusedStart(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ISOPLANE_HOME: home(), ...env } });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`npm start did not refuse the configuration within 60 s:\n${output}`));
    }, 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0 || output.includes("isoplane is running")) reject(new Error(`npm start started with a bad configuration:\n${output}`));
      else resolve(output);
    });
  });
}

let platform = null;
const servers = [];

async function main() {
  const openai = await serve(fakeOpenAI);
  const anthropic = await serve(fakeAnthropic);
  servers.push(openai.server, anthropic.server);
  const config = {
    providers: {
      openai: { type: "openai", baseUrl: `${openai.url}/v1`, apiKeySecret: "E2E_OPENAI_KEY" },
      anthropic: { type: "anthropic", baseUrl: anthropic.url, apiKeySecret: "E2E_ANTHROPIC_KEY" },
      byok: { type: "openai", baseUrl: `${openai.url}/v1` },
    },
    aliases: { smart: "anthropic/claude-test" },
    fallbacks: { "openai/unavailable": "anthropic/claude-test" },
    retry: { attempts: 2, baseDelayMs: 50, maxWaitMs: 2000 },
  };

  // Refused before anything starts, with the field and the reason.
  const typo = await refusedStart({ LLM_PROVIDERS: JSON.stringify({ ...config, aliases: { smart: "anthropc/claude-test" } }), E2E_OPENAI_KEY: FAKE_LLM_KEY, E2E_ANTHROPIC_KEY: FAKE_ANTHROPIC_KEY });
  if (!typo.includes('LLM_PROVIDERS is invalid: aliases.smart: unknown model "anthropc/claude-test": no provider named "anthropc"')) fail(`a typo in an alias was not named:\n${typo}`);
  log('✓ npm start refuses a bad LLM_PROVIDERS: "LLM_PROVIDERS is invalid: aliases.smart: unknown model …"');
  const unset = await refusedStart({ LLM_PROVIDERS: JSON.stringify(config), E2E_OPENAI_KEY: FAKE_LLM_KEY, E2E_ANTHROPIC_KEY: "" });
  if (!unset.includes('provider "anthropic" needs the secret E2E_ANTHROPIC_KEY, which is not set')) fail(`a missing secret was not named:\n${unset}`);
  log('✓ npm start refuses a provider whose secret is not set: "provider "anthropic" needs the secret E2E_ANTHROPIC_KEY …"');

  const ports = { dispatcher: await freePort(), controlPlane: await freePort() };
  const DP = `http://127.0.0.1:${ports.dispatcher}`;
  const CP = `http://127.0.0.1:${ports.controlPlane}`;
  const dir = home();
  platform = startPlatform({
    home: dir,
    ports,
    env: { LLM_PROVIDERS: JSON.stringify(config), E2E_OPENAI_KEY: FAKE_LLM_KEY, E2E_ANTHROPIC_KEY: FAKE_ANTHROPIC_KEY },
  });
  await platform.ready;
  const admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const tenant = await call("POST", `${CP}/admin/tenants`, { token: admin, body: { name: "models" } }, 201);
  const { key } = await call("POST", `${CP}/admin/tenants/${tenant.id}/keys`, { token: admin, body: {} }, 201);
  await call("PUT", `${CP}/v1/agents/models/script`, { token: key, body: AGENT, type: "application/javascript+module" }, 201);

  const started = Date.now();
  const run = await call(
    "POST",
    `${DP}/v1/agents/models/runs`,
    {
      token: key,
      body: {
        input: {
          calls: [
            { model: "openai/gpt-test", q: "plan" },
            { model: "smart", q: "write", stream: true },
            { q: "offline" },
            { model: "openai/unavailable", q: "again" },
            { model: "gpt-4o", q: "unknown" },
          ],
        },
      },
    },
    200,
  );
  const ms = Date.now() - started;
  if (run.status !== "succeeded") fail(`the run did not succeed: ${JSON.stringify(run)}`);
  const [planned, written, offline, fellOver, unknown] = run.output;
  if (planned.model !== "openai/gpt-test" || planned.content !== "fake:gpt-test:PLAN") fail(`OpenAI-compatible call: ${JSON.stringify(planned)}`);
  if (written.model !== "anthropic/claude-test" || !/^claude:\d+:WRITE$/.test(written.content) || !(written.deltas > 1)) fail(`Anthropic stream: ${JSON.stringify(written)}`);
  if (offline.model !== "builtin/isoplane-echo" || offline.content !== "echo: offline") fail(`built-in model: ${JSON.stringify(offline)}`);
  if (fellOver.model !== "anthropic/claude-test") fail(`fallback: ${JSON.stringify(fellOver)}`);
  if (!/^LLM\.chat: unknown model "gpt-4o"/.test(unknown.error ?? "")) fail(`unknown model: ${JSON.stringify(unknown)}`);
  log(`✓ one run (${ms} ms) called two providers and the built-in model: openai/gpt-test → "${planned.content}", anthropic/claude-test streamed in ${written.deltas} chunks → "${written.content}"`);

  const events = await call("GET", `${DP}/v1/runs/${run.id}/events?limit=1000`, { token: key }, 200);
  const types = events.events.map((e) => e.type);
  const retries = events.events.filter((e) => e.type === "llm.retry");
  const fallback = events.events.find((e) => e.type === "llm.fallback");
  if (retries.length !== 1 || retries[0].data.status !== 503) fail(`expected one llm.retry on a 503, got ${JSON.stringify(retries)}`);
  if (!fallback || fallback.data.from !== "openai/unavailable" || fallback.data.to !== "anthropic/claude-test") fail(`expected an llm.fallback, got ${JSON.stringify(types)}`);
  log(`✓ openai/unavailable: 503, llm.retry after ${retries[0].data.waitMs} ms, 503, llm.fallback → anthropic/claude-test; unknown "gpt-4o" refused: "${unknown.error.slice(0, 60)}…"`);
  if (run.usage.llmCalls !== 5) fail(`llmCalls ${run.usage.llmCalls}, expected 5`);

  // The tenant's own key: refused without it, served with it.
  await call("PUT", `${CP}/v1/provider-keys/byok`, { token: key, body: { key: FAKE_LLM_KEY } }, 200);
  const listed = await call("GET", `${CP}/v1/provider-keys`, { token: key }, 200);
  if (JSON.stringify(listed).includes(FAKE_LLM_KEY)) fail("the provider key list shows the key");
  const own = await call("POST", `${DP}/v1/agents/models/runs`, { token: key, body: { input: { calls: [{ model: "byok/gpt-test", q: "mine" }] } } }, 200);
  if (own.output[0].model !== "byok/gpt-test" || own.output[0].content !== "fake:gpt-test:MINE") fail(`tenant key: ${JSON.stringify(own.output)}`);
  log("✓ byok/gpt-test served on the tenant's own key (stored with PUT /v1/provider-keys/byok, never listed)");
}

process.exit(
  await runMain("models", main, async () => {
    platform?.kill();
    for (const s of servers) s.close();
    for (const dir of homes) rmSync(dir, { recursive: true, force: true });
  }),
);
