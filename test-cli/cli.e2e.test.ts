// End to end: `node cli/isoplane.mjs …` as a child process, against the whole platform
// (dispatcher + control plane) booted in one Miniflare/workerd process by bench/platform.mjs,
// with its queue, D1 and R2. Run with `npm run test:cli` (npm puts Node 22 first on PATH).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startPlatform } from "../bench/platform.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(ROOT, "cli", "isoplane.mjs");
const FIXTURES = join(ROOT, "test-cli", "fixtures");

const BRIEF = "Isoplane runs stateless agents on Workers.";
const NOTE = "Workers bill CPU time, not wall time.";

/**
 * The example agent to deploy: research (context, two tools, a streamed tool loop) when it is in
 * the tree, else summarize. `answer` is what the built-in model makes of the input.
 */
const EXAMPLE = existsSync(join(ROOT, "tenant-template", "examples", "research.ts"))
  ? {
      agent: "research",
      file: "tenant-template/examples/research.ts",
      input: { doc: "docs/brief.md", topic: "workers", a: 6, b: 7 },
      /** It calls tools and streams its answer (llm.delta events). */
      tools: true,
      answer: `echo: ${BRIEF}\nUse lookup({"topic":"workers"}) and calculator({"a":6,"op":"*","b":7}). | lookup: ${NOTE} | calculator: 42`,
    }
  : {
      agent: "summarize",
      file: "tenant-template/examples/summarize.ts",
      input: { doc: "docs/brief.md" },
      tools: false,
      answer: `echo: ${BRIEF}`,
    };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as it arrived, with the time each piece came (ms since spawn). */
  chunks: { at: number; text: string }[];
}

let work: string;
let configFile: string;
let platform: { mf: { dispose(): Promise<void> }; urls: { dispatcher: string; controlPlane: string } };
let key: string;

/** Runs the CLI; stdin gets `input` (and is closed), the environment only what the test gives. */
function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const env: Record<string, string> = { NO_COLOR: "1", ISOPLANE_CONFIG: configFile };
  for (const name of ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"]) if (process.env[name]) env[name] = process.env[name]!;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Result["chunks"] = [];
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => chunks.push({ at: Date.now() - started, text }));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: chunks.map((c) => c.text).join(""), stderr, chunks }));
    child.stdin.end(options.input ?? "");
  });
}

/** A run id printed by the CLI. */
function runIdIn(text: string): string {
  const id = /run_[0-9a-z]+/.exec(text)?.[0];
  expect(id, text).toBeDefined();
  return id!;
}

/** A local port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface CuttingProxy {
  url: string;
  /** Every request that went through: method, path and its Last-Event-ID header. */
  requests: { method: string; path: string; lastEventId: string | undefined }[];
  close(): Promise<void>;
}

/**
 * A local HTTP proxy in front of `target` that cuts the first event streams it forwards, one per
 * entry of `cuts`: each after its `afterEvents`-th event and a few bytes of the next one (so the
 * client is left with half an event), by resetting the connection or by ending the response as
 * if the stream were over. Everything else goes through as it is.
 */
function cuttingProxy(target: string, cuts: { afterEvents: number; how: "reset" | "end" }[]): Promise<CuttingProxy> {
  const requests: CuttingProxy["requests"] = [];
  const pending = [...cuts];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", target);
    const lastEventId = req.headers["last-event-id"];
    requests.push({ method: req.method ?? "GET", path: url.pathname, lastEventId: typeof lastEventId === "string" ? lastEventId : undefined });
    const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      const cut = String(up.headers["content-type"]).startsWith("text/event-stream") ? pending.shift() : undefined;
      if (!cut) {
        up.pipe(res);
        return;
      }
      let seen = Buffer.alloc(0);
      let sent = 0;
      let done = false;
      up.on("data", (chunk: Buffer) => {
        if (done) return;
        seen = Buffer.concat([seen, chunk]);
        // Where the afterEvents-th event ends ("\n\n"), if it came yet; blocks without data (the
        // server's `retry:` advice, keep-alive comments) are not events.
        let end = 0;
        for (let i = 0; i < cut.afterEvents && end >= 0; ) {
          const at = seen.indexOf("\n\n", end);
          if (at >= 0 && /^data: /m.test(seen.subarray(end, at).toString())) i++;
          end = at < 0 ? -1 : at + 2;
        }
        const cutAt = end + 12;
        if (end < 0 || seen.length < cutAt) {
          res.write(seen.subarray(sent));
          sent = seen.length;
          return;
        }
        done = true;
        up.destroy();
        // What was written reaches the client before the cut.
        res.write(seen.subarray(sent, cutAt), () => (cut.how === "end" ? res.end() : res.socket?.destroy()));
      });
      up.on("end", () => res.end());
      up.on("error", () => res.destroy());
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

async function admin(path: string, body: unknown, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(platform.urls.controlPlane + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "isoplane-cli-"));
  configFile = join(work, "home", "isoplane", "config.json");
  const adminToken = randomBytes(24).toString("hex");
  platform = await startPlatform({ root: ROOT, workdir: join(work, "platform"), adminToken });
  const tenant = await admin("/admin/tenants", { name: "cli-e2e" }, adminToken);
  key = (await admin(`/admin/tenants/${tenant.id}/keys`, { name: "cli" }, adminToken)).key as string;
}, 60_000);

afterAll(async () => {
  await platform?.mf.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("isoplane CLI against the local platform", () => {
  test("--help and <command> --help print usage", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["login", "deploy", "run", "logs", "context"]) expect(help.stdout).toContain(`isoplane ${command}`);
    const deploy = await cli(["deploy", "--help"]);
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toMatch(/^isoplane deploy <file> --agent <name>/);
    expect(deploy.stdout).toContain("--no-bundle");
    const put = await cli(["context", "put", "--help"]);
    expect(put.stdout).toContain("isoplane context put <key> <file|->");
    const unknown = await cli(["deploy", "x.ts", "--nope"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("✘ [ERROR] Unknown argument: --nope");
  });

  test("login refuses a bad key and saves nothing", async () => {
    // Well formed, but not a key the platform issued (its checksum does not match).
    const result = await cli(["login", "--url", platform.urls.dispatcher, "--control-plane", platform.urls.controlPlane, "--key", `isk_${"a".repeat(36)}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("✘ [ERROR] Login failed");
    expect(result.stderr).toContain("Missing or unknown credentials");
    expect(result.stderr).toContain("Nothing was saved.");
    expect(existsSync(configFile)).toBe(false);
  });

  test("login checks the key (read from stdin) and saves it with the URLs, mode 0600", async () => {
    const result = await cli(["login", "--url", platform.urls.dispatcher, "--control-plane", platform.urls.controlPlane], { input: `${key}\n` });
    expect(result.stderr).not.toContain("[ERROR]");
    expect(result.stderr).not.toContain("[WARNING]");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`✨ Logged in to ${platform.urls.dispatcher} with key ${key.slice(0, 10)}…`);
    expect(result.stdout).not.toContain(key);
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(configFile, "utf8"))).toEqual({
      dispatcher: platform.urls.dispatcher,
      controlPlane: platform.urls.controlPlane,
      key,
    });
  });

  test("context put / get / ls round-trip", async () => {
    const brief = join(work, "brief.md");
    await writeFile(brief, BRIEF);
    const put = await cli(["context", "put", "docs/brief.md", brief]);
    expect(put.stderr).toBe("");
    expect(put.stdout).toContain(`✨ Uploaded context docs/brief.md (${BRIEF.length} B, text/markdown; charset=utf-8)`);
    const piped = await cli(["context", "put", "notes/workers.md", "-", "--content-type", "text/plain"], { input: NOTE });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain("(37 B, text/plain)");

    const got = await cli(["context", "get", "docs/brief.md"]);
    expect(got.code).toBe(0);
    expect(got.stdout).toBe(BRIEF);
    const saved = join(work, "note-copy.md");
    const toFile = await cli(["context", "get", "notes/workers.md", "-o", saved]);
    expect(toFile.code).toBe(0);
    expect(await readFile(saved, "utf8")).toBe(NOTE);

    const ls = await cli(["context", "ls"]);
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^KEY\s+SIZE\s+UPLOADED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["docs/brief.md", "notes/workers.md"]);
    const notes = await cli(["context", "ls", "notes/", "--json"]);
    expect(notes.stdout.trim().split("\n").map((l) => JSON.parse(l).key)).toEqual(["notes/workers.md"]);

    const missing = await cli(["context", "get", "docs/nope.md"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('✘ [ERROR] Not found: No context object "docs/nope.md".');
  });

  test(`deploy bundles ${EXAMPLE.file} with esbuild and uploads it: a new version each time`, async () => {
    const first = await cli(["deploy", EXAMPLE.file, "--agent", EXAMPLE.agent]);
    expect(first.stderr).not.toContain("[ERROR]");
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`Bundling ${EXAMPLE.file}…`);
    expect(first.stdout).toMatch(/^Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB$/m);
    expect(first.stdout).toMatch(new RegExp(`^✨ Uploaded ${EXAMPLE.agent} \\(version 1, [\\d.]+ KiB\\)$`, "m"));
    expect(first.stdout).toMatch(/^ {2}sha256: [0-9a-f]{12}$/m);
    // The agent's name defaults to the file's.
    const second = await cli(["deploy", EXAMPLE.file]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`✨ Uploaded ${EXAMPLE.agent} \\(version 2, `));
  });

  test("deploy --no-bundle uploads a built module as it is", async () => {
    const result = await cli(["deploy", "test-cli/fixtures/ticker.mjs", "--agent", "ticker", "--no-bundle"]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("Bundling");
    const size = (await stat(join(FIXTURES, "ticker.mjs"))).size;
    expect(result.stdout).toContain(`Total Upload: ${size} B / gzip: `);
    expect(result.stdout).toContain(`✨ Uploaded ticker (version 1, ${size} B)`);
  });

  test("deploy reports build errors and the platform's refusals", async () => {
    const broken = await cli(["deploy", "test-cli/fixtures/broken.ts", "--agent", "broken"]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("✘ [ERROR] Build failed with 1 error:");
    expect(broken.stderr).toMatch(/broken\.ts:2:\d+: ERROR: Could not resolve "\.\/does-not-exist"/);
    const refused = await cli(["deploy", "test-cli/fixtures/no-default.mjs", "--agent", "nodefault", "--no-bundle"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("✘ [ERROR] The script is not valid: ");
    expect(refused.stderr).toMatch(/PUT http:\/\/127\.0\.0\.1:\d+\/v1\/agents\/nodefault\/script → 400 invalid-script/);
  });

  let syncRun: string;

  test("run (sync) prints the status, the output as JSON and the usage", async () => {
    const result = await cli(["run", EXAMPLE.agent, "--input", JSON.stringify(EXAMPLE.input)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^✨ Run run_\\w+ succeeded \\(${EXAMPLE.agent} v2, \\d+ ms\\)$`, "m"));
    const json = result.stdout.slice(result.stdout.indexOf("{"), result.stdout.lastIndexOf("}") + 1);
    expect(JSON.parse(json).summary).toBe(EXAMPLE.answer);
    expect(result.stdout).toMatch(/^Usage: \d+ LLM calls? \(\d+ in \/ \d+ out tokens\) · \d+ reads? \(.+\) · \d+ writes? \(.+\) · CPU not measured$/m);
    syncRun = runIdIn(result.stdout);
  });

  test("run --idempotency-key: a repeat gets the first run back, sync or streamed", async () => {
    for (const mode of [[], ["--stream"]]) {
      const args = ["run", "ticker", "--input", '{"delayMs":0}', "--idempotency-key", `k-${randomBytes(4).toString("hex")}`, ...mode];
      const first = await cli(args);
      expect(first.code).toBe(0);
      const again = await cli(args);
      expect(again.stderr).toContain(`An earlier request with this Idempotency-Key started run ${runIdIn(first.stdout)}`);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`^✨ Run ${runIdIn(first.stdout)} succeeded`, "m"));
    }
    // The same key with another request is the platform's 422, shown as such.
    const key = `k-${randomBytes(4).toString("hex")}`;
    await cli(["run", "ticker", "--input", '{"delayMs":0}', "--idempotency-key", key]);
    const reused = await cli(["run", "ticker", "--input", '{"delayMs":1}', "--idempotency-key", key]);
    expect(reused.code).toBe(1);
    expect(reused.stderr).toContain("✘ [ERROR] This Idempotency-Key was used with a different request");
  });

  test("run --input @file reads the input from a file", async () => {
    const file = join(work, "input.json");
    await writeFile(file, JSON.stringify(EXAMPLE.input));
    const result = await cli(["run", EXAMPLE.agent, "--input", `@${file}`, "--json"]);
    expect(result.code).toBe(0);
    const run = JSON.parse(result.stdout);
    expect(run.status).toBe("succeeded");
    expect(run.output.summary).toBe(EXAMPLE.answer);
    const bad = await cli(["run", EXAMPLE.agent, "--input", "{nope"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("✘ [ERROR] --input is not valid JSON");
  });

  test("run --stream prints the events as they come: model text inline, tool calls, the result", async () => {
    const result = await cli(["run", EXAMPLE.agent, "--input", JSON.stringify(EXAMPLE.input), "--stream"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(new RegExp(`^→ run\\.started run_\\w+ ${EXAMPLE.agent} v2$`, "m"));
    if (EXAMPLE.tools) {
      // The deltas, written one after another, make up the answer on their own line(s).
      expect(out).toContain(`\n${EXAMPLE.answer}\n`);
      expect(out.indexOf(EXAMPLE.answer)).toBeLessThan(out.indexOf("✨ Run"));
      expect(out).toMatch(/^• agent\.event \{"stage":"researching",.*\}$/m);
      expect(out).toContain('→ tool.call lookup {"topic":"workers"}');
      expect(out).toContain(`← tool.result lookup ${NOTE}`);
      expect(out).toContain('→ tool.call calculator {"a":6,"op":"*","b":7}');
      expect(out).toContain("← tool.result calculator 42");
      expect(out.indexOf("tool.result calculator")).toBeLessThan(out.indexOf(EXAMPLE.answer));
    }
    expect(out).toMatch(/^✨ Run run_\w+ succeeded/m);
    expect(out).toContain(JSON.stringify(EXAMPLE.answer));
  });

  test("run --stream shows each event when it happens, not at the end", async () => {
    const result = await cli(["run", "ticker", "--input", '{"delayMs":300}', "--stream"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("• agent.event {\"stage\":\"start\"}");
    expect(result.stdout).toContain("\nslow and steady\n");
    const when = (text: string) => result.chunks.find((c) => c.text.includes(text))?.at ?? NaN;
    // Three deltas 300 ms apart: the first word is on the terminal well before the run ends.
    expect(when("succeeded") - when("slow")).toBeGreaterThanOrEqual(450);
    expect(when("steady") - when("slow")).toBeGreaterThanOrEqual(450);
  });

  test("run --stream resumes a lost connection after the last event it printed: every event once", async () => {
    const deployed = await cli(["deploy", "test-cli/fixtures/counter.mjs", "--agent", "counter", "--no-bundle"]);
    expect(deployed.code).toBe(0);
    const input = JSON.stringify({ count: 20, delayMs: 100 });
    // run.started is event 1 and {"n": k} event k + 1; run.completed is 22.
    const ns = (text: string) => [...text.matchAll(/^• agent\.event \{"n":(\d+)\}$/gm)].map((m) => Number(m[1]));
    const all = Array.from({ length: 20 }, (_, i) => i + 1);

    // The POST's stream reset after event 5 (half of event 6 delivered), the first resumed one
    // ended early after 3 more: two resumptions, from 5 and from 8; the third stream runs to the end.
    const proxy = await cuttingProxy(platform.urls.dispatcher, [
      { afterEvents: 5, how: "reset" },
      { afterEvents: 3, how: "end" },
    ]);
    try {
      const result = await cli(["run", "counter", "--input", input, "--stream"], { env: { ISOPLANE_URL: proxy.url } });
      expect(result.code, result.stderr).toBe(0);
      const id = runIdIn(result.stdout);
      expect(ns(result.stdout)).toEqual(all);
      expect(result.stdout.match(/→ run\.started/g)).toHaveLength(1);
      expect(result.stdout).toMatch(new RegExp(`^✨ Run ${id} succeeded \\(counter v1, [\\d.]+ (ms|sec)\\)$`, "m"));
      expect(result.stdout).toContain('"counted": 20');
      expect(result.stderr.trimEnd().split("\n")).toEqual(["connection lost, resuming after event 5…", "connection lost, resuming after event 8…"]);
      const streams = proxy.requests.filter((r) => r.path === `/v1/runs/${id}/stream`);
      expect(streams).toEqual([
        { method: "GET", path: `/v1/runs/${id}/stream`, lastEventId: "5" },
        { method: "GET", path: `/v1/runs/${id}/stream`, lastEventId: "8" },
      ]);
    } finally {
      await proxy.close();
    }

    // --json prints each event's id: 1 to 22, each once, in order, across a cut.
    const again = await cuttingProxy(platform.urls.dispatcher, [{ afterEvents: 7, how: "reset" }]);
    try {
      const result = await cli(["run", "counter", "--input", input, "--stream", "--json"], { env: { ISOPLANE_URL: again.url } });
      expect(result.code, result.stderr).toBe(0);
      const events = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { event: string; id: number; data: { n?: number; status?: string } });
      expect(events.map((e) => e.id)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
      expect(events.slice(1, -1).map((e) => e.data.n)).toEqual(all);
      expect(events.at(-1)).toMatchObject({ event: "run.completed", data: { status: "succeeded", output: { counted: 20 } } });
      expect(result.stderr).toContain("connection lost, resuming after event 7…");
    } finally {
      await again.close();
    }
  });

  test("run --async prints the run id; --wait polls until it ends and prints the result", async () => {
    const queued = await cli(["run", EXAMPLE.agent, "--input", JSON.stringify(EXAMPLE.input), "--async"]);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(new RegExp(`^✨ Queued run run_\\w+ for ${EXAMPLE.agent}$`, "m"));
    const id = runIdIn(queued.stdout);
    // The queue runs it; `logs --follow` waits for the end.
    const followed = await cli(["logs", id, "--follow"]);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/ run\.completed /);
    expect(followed.stderr).toContain(`Run ${id} succeeded.`);

    const waited = await cli(["run", EXAMPLE.agent, "--input", JSON.stringify(EXAMPLE.input), "--async", "--wait"]);
    expect(waited.code).toBe(0);
    expect(waited.stderr).toMatch(/Queued run run_\w+; waiting for it to end…/);
    expect(waited.stdout).toMatch(/^✨ Run run_\w+ succeeded/m);
    expect(waited.stdout).toContain(JSON.stringify(EXAMPLE.answer));
  });

  test("logs prints the stored events: seq, time, type, data", async () => {
    const result = await cli(["logs", syncRun]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ {3}1 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}run\.started +\{.*"agent":"\w+"/);
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^ *${i + 1}  \\S+Z  [a-z.]+ +`)));
    const types = lines.map((l) => l.trim().split(/\s+/)[2]);
    expect(types.at(-1)).toBe("run.completed");
    if (EXAMPLE.tools) expect(types).toEqual(expect.arrayContaining(["agent.event", "tool.call", "tool.result", "llm.delta"]));
    const json = await cli(["logs", syncRun, "--json"]);
    expect(JSON.parse(json.stdout.split("\n")[0]!)).toMatchObject({ seq: 1, type: "run.started" });
  });

  test("a failed run exits 1 with the run's error", async () => {
    const result = await cli(["run", "ticker", "--input", '{"fail":"boom"}']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✘ Run run_\w+ failed \(ticker v1, \d+ ms\)$/m);
    expect(result.stderr).toMatch(/✘ \[ERROR\] Run run_\w+ failed: boom/);
    const streamed = await cli(["run", "ticker", "--input", '{"fail":"boom"}', "--stream"]);
    expect(streamed.code).toBe(1);
    expect(streamed.stderr).toMatch(/✘ \[ERROR\] Run run_\w+ failed: boom/);
  });

  test("an unknown agent prints the problem and exits non-zero", async () => {
    for (const mode of [[], ["--stream"], ["--async"]]) {
      const result = await cli(["run", "nope", "--input", "{}", ...mode]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('✘ [ERROR] Not found: No agent named "nope".');
      expect(result.stderr).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/agents\/nope\/runs → 404 not-found/);
    }
  });

  test("the environment overrides the saved config", async () => {
    const badKey = await cli(["context", "ls"], { env: { ISOPLANE_API_KEY: `isk_${"b".repeat(36)}` } });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("✘ [ERROR] Missing or unknown credentials");
    expect(badKey.stderr).toContain("run `isoplane login`, or set ISOPLANE_API_KEY");
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const nowhere = await cli(["context", "ls"], { env: { ISOPLANE_URL: closed } });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain(`✘ [ERROR] Could not reach the dispatcher at ${closed}`);
    expect(nowhere.stderr).toContain("ECONNREFUSED");
  });
});
