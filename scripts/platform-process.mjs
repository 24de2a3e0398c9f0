// `npm start` as a child process, for the scripts that test the platform the way it is run:
// `npm run test:faults` (scripts/faults.mjs) and `npm run test:browser` (scripts/browser.mjs).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/**
 * Starts scripts/start.mjs on `home` (its state folder) and the given ports, in a process group of
 * its own so `kill()` takes workerd and the sandboxes with it. `ready` resolves once it says it is
 * running; `output()` is everything it printed so far.
 */
export function startPlatform({ home, ports, env = {} }) {
  const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ISOPLANE_HOME: home,
      ISOPLANE_DISPATCHER_PORT: String(ports.dispatcher),
      ISOPLANE_CONTROL_PLANE_PORT: String(ports.controlPlane),
      ...env,
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
  let alive = true;
  return {
    ready,
    output: () => output,
    kill() {
      if (!alive) return;
      alive = false;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    },
  };
}

/**
 * Runs a test script's `main`: a failure is printed as `<name>: FAILED — …`, and `cleanup` runs
 * either way. Resolves with the exit code.
 */
export async function runMain(name, main, cleanup) {
  try {
    await main();
    return 0;
  } catch (err) {
    console.error(`${name}: FAILED — ${err instanceof Error ? err.message : err}`);
    return 1;
  } finally {
    await cleanup();
  }
}

/**
 * One JSON call to the platform: `token` as the bearer, `body` as JSON (or text of `type`). Throws
 * when the status is not `expected` (if given); answers the parsed body.
 */
export async function call(method, url, { token, body, type = "application/json" } = {}, expected) {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": type } : {}) },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (expected !== undefined && res.status !== expected) throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}
