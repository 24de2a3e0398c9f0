// The sandbox pool behind `npm start`: tenant code runs in workerd processes of its own, one per
// tenant, never in the dispatcher's process (dispatcher/sandbox/worker.ts,
// dispatcher/src/runtime/sandboxed.ts). workerd enforces no CPU limit, so a `for(;;)` in an agent
// would otherwise freeze every tenant; here it freezes only its tenant's sandbox, which this pool
// stops (SIGKILL) once its runs have burnt their CPU budgets, as production ends an invocation at
// its CPU limit (see the watchdog below for every rule). The dispatcher asks this pool (an HTTP server on loopback,
// its SANDBOXES binding) where a tenant's sandbox listens, and why it stopped when a call breaks.
import { spawn, spawnSync } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { bundleWorkerModule } from "./workers.mjs";

const HOST = "127.0.0.1";
const TOKEN_HEADER = "x-isoplane-sandbox-token";
/** Production's default CPU limit of an invocation, used when the tenant has no cpuMsPerRun. */
export const DEFAULT_CPU_MS = 30_000;
const PING_EVERY_MS = 100;
const IDLE_STOP_MS = 10 * 60_000;
/** CPU a sandbox may burn with no run in flight (`waitUntil` work left behind) before it is stopped. */
const AFTER_RUN_CPU_MS = 5_000;
/** A run acquired this recently may not have reached its sandbox yet: the sandbox still counts as busy. */
const ARRIVAL_MS = 2_000;
/** What a sandbox's process may hold (all its tenant's isolates; production gives each isolate 128 MB). */
export const DEFAULT_MEMORY_MB = 512;
/** A sandbox's stderr relayed to the operator, at most this many lines a second (the rest counted). */
const LOG_LINES_PER_SECOND = 50;

function workerdBinary(root) {
  const fromWrangler = createRequire(createRequire(join(root, "package.json")).resolve("wrangler"));
  const fromMiniflare = createRequire(fromWrangler.resolve("miniflare"));
  return join(fromMiniflare.resolve("workerd/package.json"), "..", "bin", "workerd");
}

/** The sandbox Worker's workerd config: its only ways out are the dispatcher and the public network. */
function config(compatibilityDate) {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "sandbox", worker = .sandbox),
    (name = "platform", external = (address = "${HOST}:1", http = ())),
    (name = "public", network = (allow = ["public"], deny = [])),
  ],
  sockets = [ (name = "http", address = "${HOST}:0", http = (), service = "sandbox") ],
);
const sandbox :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "${compatibilityDate}",
  bindings = [
    (name = "LOADER", workerLoader = ()),
    (name = "PLATFORM", service = "platform"),
    (name = "PUBLIC", service = "public"),
    (name = "SANDBOX_TOKEN", fromEnvironment = "SANDBOX_TOKEN"),
  ],
  globalOutbound = "public",
);
`;
}

/** Resident memory of a process in MB; null once it is gone. */
function rssMbOf(pid) {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

/** A line of tenant output made safe for the operator's terminal: no control characters, bounded. */
function safeLine(line) {
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
  return clean.length > 2000 ? `${clean.slice(0, 2000)}… (${clean.length} characters)` : clean;
}

/** CPU time (user + system) a process has used, in ms; null once it is gone. */
function cpuMsOf(pid, ticksPerSecond) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function clockTicks() {
  const n = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/**
 * Starts the pool: bundles the sandbox Worker into `dir`, listens on loopback and returns its
 * address. `platform()` gives the dispatcher's direct address once it is known.
 */
export async function startSandboxPool({ root, dir, token, platform, compatibilityDate, max = 16, memoryMb = DEFAULT_MEMORY_MB, log = console.error }) {
  mkdirSync(dir, { recursive: true });
  await bundleWorkerModule(join(root, "dispatcher", "sandbox", "worker.ts"), join(dir, "worker.js"));
  const configFile = join(dir, "sandbox.capnp");
  writeFileSync(configFile, config(compatibilityDate));
  const workerd = workerdBinary(root);
  const ticks = clockTicks();
  /** tenantId → sandbox; `exits` keeps why each tenant's last sandbox stopped. */
  const sandboxes = new Map();
  const exits = new Map();
  let spare = null;
  let closed = false;

  function spawnSandbox() {
    const child = spawn(workerd, ["serve", configFile, "--experimental", "--control-fd=3", `--external-addr=platform=${platform()}`], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: { ...process.env, SANDBOX_TOKEN: token },
    });
    // `busy`: since its first run in flight, the CPU it had then and the budget of every run since;
    // `idle`: since its last run ended, the CPU it had then.
    const sandbox = { child, url: null, tenantId: null, lastUsed: Date.now(), busy: null, idle: { at: Date.now(), cpu: 0 }, pinging: false, stopped: null, logged: { second: 0, lines: 0, dropped: 0 } };
    sandbox.ready = new Promise((resolve, reject) => {
      let buffered = "";
      child.stdio[3].on("data", (chunk) => {
        buffered += chunk.toString();
        for (const line of buffered.split("\n").slice(0, -1)) {
          const msg = JSON.parse(line);
          if (msg.event === "listen" && msg.socket === "http") {
            sandbox.url = `http://${HOST}:${msg.port}`;
            resolve(sandbox);
          }
        }
        buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
      });
      child.on("exit", (code, signal) => {
        reject(new Error(`workerd exited (${signal ?? code}) before listening`));
        if (!sandbox.stopped) sandbox.stopped = `its workerd process exited (${signal ?? `code ${code}`})`;
        if (sandbox.tenantId) {
          exits.set(sandbox.tenantId, sandbox.stopped);
          if (sandboxes.get(sandbox.tenantId) === sandbox) sandboxes.delete(sandbox.tenantId);
        }
        if (spare === sandbox) spare = null;
      });
    });
    sandbox.ready.catch(() => {});
    child.stderr.on("data", (chunk) => {
      for (const line of chunk.toString().split("\n")) {
        // workerd logs each refused connection of the public-only network; the run's log says it.
        if (!line.trim() || /is not allowed|jsgInternalError|^stack:/.test(line)) continue;
        const second = Math.floor(Date.now() / 1000);
        const l = sandbox.logged;
        if (l.second !== second) {
          if (l.dropped) log(`[sandbox ${sandbox.tenantId ?? "spare"}] (${l.dropped} more lines not shown)`);
          Object.assign(l, { second, lines: 0, dropped: 0 });
        }
        if (++l.lines > LOG_LINES_PER_SECOND) l.dropped++;
        else log(`[sandbox ${sandbox.tenantId ?? "spare"}] ${safeLine(line)}`);
      }
    });
    return sandbox;
  }

  function stop(sandbox, reason) {
    if (sandbox.stopped) return;
    sandbox.stopped = reason;
    if (sandbox.tenantId) exits.set(sandbox.tenantId, reason);
    sandbox.child.kill("SIGKILL");
  }

  async function acquire(tenantId, cpuMs) {
    let sandbox = sandboxes.get(tenantId);
    if (!sandbox) {
      if (sandboxes.size >= max) {
        // Only a sandbox with no run in flight is stopped to make room; runs are never cut for it.
        const idle = [...sandboxes.values()].filter((s) => !s.busy).sort((a, b) => a.lastUsed - b.lastUsed)[0];
        if (!idle) throw new Error(`all ${max} sandboxes (ISOPLANE_SANDBOXES) are running other tenants' runs; try again shortly`);
        stop(idle, `more than ${max} tenants' sandboxes were wanted (ISOPLANE_SANDBOXES); this idle one was stopped`);
        sandboxes.delete(idle.tenantId);
      }
      sandbox = spare ?? spawnSandbox();
      spare = null;
      sandbox.tenantId = tenantId;
      sandboxes.set(tenantId, sandbox);
      exits.delete(tenantId);
      if (!closed) spare = spawnSandbox();
    }
    sandbox.lastUsed = Date.now();
    await sandbox.ready;
    sandbox.busy ??= { cpu: cpuMsOf(sandbox.child.pid, ticks) ?? 0, budget: 0, runs: 0 };
    sandbox.busy.budget += cpuMs ?? DEFAULT_CPU_MS;
    sandbox.busy.runs++;
    sandbox.idle = null;
    return sandbox.url;
  }

  /**
   * Every 100 ms: a sandbox whose runs in flight have used more CPU than all their budgets together
   * is stopped (a spinning loop, yielding or not: the process's CPU time counts, not its answers);
   * so is one that keeps burning CPU with no run in flight, one over its memory limit, and one idle
   * for 10 minutes. Pings tell it the runs in flight (their answers still streaming).
   */
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const sandbox of sandboxes.values()) {
      if (!sandbox.url || sandbox.stopped) continue;
      const cpu = cpuMsOf(sandbox.child.pid, ticks);
      const rss = rssMbOf(sandbox.child.pid);
      const end = (reason) => {
        stop(sandbox, reason);
        sandboxes.delete(sandbox.tenantId);
      };
      if (cpu === null) continue;
      if (rss !== null && rss > memoryMb) {
        end(`it held ${Math.round(rss)} MB of memory, over the sandbox limit of ${memoryMb} MB (ISOPLANE_SANDBOX_MEMORY_MB)`);
        continue;
      }
      if (sandbox.busy && cpu - sandbox.busy.cpu > sandbox.busy.budget) {
        const runs = sandbox.busy.runs;
        end(`${runs === 1 ? "an agent" : `${runs} runs`} used ${Math.round(cpu - sandbox.busy.cpu)} ms of CPU, over ${runs === 1 ? "its" : "their"} CPU budget of ${sandbox.busy.budget} ms (cpuMsPerRun)`);
        continue;
      }
      if (sandbox.idle && cpu - sandbox.idle.cpu > AFTER_RUN_CPU_MS) {
        end(`work left running after its runs ended used ${Math.round(cpu - sandbox.idle.cpu)} ms of CPU (at most ${AFTER_RUN_CPU_MS} ms)`);
        continue;
      }
      if (sandbox.idle && now - sandbox.idle.at > IDLE_STOP_MS) {
        end("it was idle for 10 minutes");
        continue;
      }
      if (sandbox.pinging) continue;
      sandbox.pinging = true;
      fetch(`${sandbox.url}/_ping`, { signal: AbortSignal.timeout(60_000) })
        .then((res) => res.json())
        .then(
          ({ runsInFlight }) => {
            if (runsInFlight === 0 && sandbox.busy && Date.now() - sandbox.lastUsed > ARRIVAL_MS) {
              sandbox.busy = null;
              sandbox.idle = { at: Date.now(), cpu: cpuMsOf(sandbox.child.pid, ticks) ?? 0 };
            }
          },
          () => {},
        )
        .finally(() => {
          sandbox.pinging = false;
        });
    }
  }, PING_EVERY_MS);

  const server = createServer((req, res) => {
    const answer = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(String(req.headers[TOKEN_HEADER] ?? ""));
    const expected = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return answer(404, { error: "not found" });
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > 4096) req.destroy();
      else chunks.push(c);
    });
    req.on("end", async () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      } catch {
        return answer(400, { error: "malformed JSON" });
      }
      const tenantId = typeof body.tenantId === "string" ? body.tenantId : "";
      if (!/^ten_[0-9a-z]{20}$/.test(tenantId)) return answer(400, { error: "no tenantId" });
      if (req.url === "/exit") return answer(200, { exit: exits.get(tenantId) ?? null });
      if (req.url !== "/acquire") return answer(404, { error: "not found" });
      try {
        const cpuMs = Number.isSafeInteger(body.cpuMs) && body.cpuMs > 0 ? body.cpuMs : null;
        answer(200, { url: await acquire(tenantId, cpuMs) });
      } catch (err) {
        answer(200, { exit: err.message });
      }
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  spare = spawnSandbox();
  return {
    address: `${HOST}:${server.address().port}`,
    max,
    /** Every sandbox's process id (for tests and the faults script). */
    pids: () => [...sandboxes.values()].map((s) => s.child.pid),
    close() {
      closed = true;
      clearInterval(watchdog);
      server.close();
      for (const sandbox of [...sandboxes.values(), spare].filter(Boolean)) stop(sandbox, "the platform stopped");
    },
  };
}
