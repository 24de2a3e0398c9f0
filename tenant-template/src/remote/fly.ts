import { RemoteToolError } from "../errors";
import type { RemoteToolRequest, RemoteToolResult, RemoteToolRunner } from "./types";

export interface FlyMachinesOptions {
  /** The Fly app the machines are created in (create it once: `fly apps create <name>`). */
  app: string;
  /** A Fly API token that may manage the app's machines — take it from a secret, e.g. `ctx.secrets.FLY_API_TOKEN`. */
  token: string | undefined;
  /** Default image, e.g. "python:3.12-slim"; a tool may name its own. */
  image: string;
  /** Region code ("ord", "fra", …); Fly picks one near the caller when omitted. */
  region?: string;
  baseUrl?: string;
  /** Machine size (default: shared CPU, 1 vCPU, 256 MB). */
  guest?: { cpu_kind?: "shared" | "performance"; cpus?: number; memory_mb?: number };
  /**
   * The machine's main process: it must outlive the command (exec runs beside it), and any image
   * with GNU coreutils has `/bin/sleep inf` (the default, as in Fly's own create example).
   */
  keepAlive?: string[];
  /** Seconds to wait for the machine to start, at most 60 (the API's limit); default 60. */
  startTimeoutSeconds?: number;
  /** Defaults to the global fetch — which, inside Isoplane, is the platform's egress (allowlist api.machines.dev). */
  fetch?: typeof fetch;
}

/** Fly Machines API shapes used here (see the comment on `FlyMachinesRunner`). */
interface FlyMachine {
  id: string;
  state?: string;
}
interface FlyExecResponse {
  exit_code?: number;
  exit_signal?: number;
  stdout?: string;
  stderr?: string;
}

/**
 * Runs each command in a fresh Fly Machine that lives only as long as the command:
 *
 *   1. `POST /v1/apps/{app}/machines` `{ region?, config: { image, auto_destroy: true, guest,
 *      init: { exec: keepAlive }, restart: { policy: "no" }, env?, metadata } }` → `{ id, state, … }`
 *   2. `GET /v1/apps/{app}/machines/{id}/wait?state=started&timeout=<s>` → `{ ok: true }`
 *   3. `POST /v1/apps/{app}/machines/{id}/exec` `{ command: [...argv], timeout: <s> }`
 *      → `{ exit_code, exit_signal, stdout, stderr }` (HTTP 200 even when the command failed)
 *   4. `DELETE /v1/apps/{app}/machines/{id}?force=true` → `{ ok: true }` — always, even when a
 *      step failed; a machine that cannot be destroyed is reported as an error, never left silently.
 *
 * Every call carries `Authorization: Bearer <token>`. Sources: Fly's Machines resource reference
 * (https://fly.io/docs/machines/api/machines-resource/: create with `config.image`/`auto_destroy`/
 * `guest`/`init.exec`; wait's `state` and `timeout` in seconds, default 60; delete's `force`),
 * "Working with the Machines API" (base URL https://api.machines.dev, Bearer token), and the
 * Machines OpenAPI spec (docs.machines.dev) for exec — `MachineExecRequest { command: string[],
 * timeout, cmd (deprecated string form) }` and `flydv1.ExecResponse { exit_code, exit_signal,
 * stdout, stderr }`, whose zero values may be omitted (fly-go's struct tags are `omitempty`), so a
 * missing `exit_code` means 0.
 */
export class FlyMachinesRunner implements RemoteToolRunner {
  private readonly base: string;
  private readonly fetcher: typeof fetch;

  constructor(private readonly options: FlyMachinesOptions) {
    if (!options.app) throw new TypeError("FlyMachinesRunner: app is required");
    if (!options.token) throw new RemoteToolError("FlyMachinesRunner: no Fly API token (set the FLY_API_TOKEN secret)");
    this.base = `${(options.baseUrl ?? "https://api.machines.dev").replace(/\/+$/, "")}/v1/apps/${encodeURIComponent(options.app)}/machines`;
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async run(request: RemoteToolRequest): Promise<RemoteToolResult> {
    if (!request.command.length) throw new RemoteToolError("FlyMachinesRunner: empty command");
    const o = this.options;
    const machine = await this.call<FlyMachine>("POST", "", {
      ...(o.region ? { region: o.region } : {}),
      config: {
        image: request.image ?? o.image,
        auto_destroy: true,
        restart: { policy: "no" },
        guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256, ...o.guest },
        init: { exec: o.keepAlive ?? ["/bin/sleep", "inf"] },
        ...(request.env ? { env: request.env } : {}),
        ...(request.labels ? { metadata: request.labels } : {}),
      },
    });
    const id = encodeURIComponent(machine.id);
    let failure: unknown = null;
    try {
      const startTimeout = Math.min(60, Math.max(1, Math.ceil(o.startTimeoutSeconds ?? 60)));
      await this.call("GET", `/${id}/wait?state=started&timeout=${startTimeout}`);
      const out = await this.call<FlyExecResponse>("POST", `/${id}/exec`, {
        command: request.command,
        ...(request.timeoutSeconds ? { timeout: Math.ceil(request.timeoutSeconds) } : {}),
      });
      const signal = out.exit_signal ?? 0;
      return { exitCode: out.exit_code || (signal ? 128 + signal : 0), stdout: out.stdout ?? "", stderr: out.stderr ?? "" };
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      await this.destroy(id, failure);
    }
  }

  /** Destroys the machine (two tries). Throws only when nothing else has gone wrong, so the first error is the one reported. */
  private async destroy(id: string, failure: unknown): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.call("DELETE", `/${id}?force=true`);
        return;
      } catch (err) {
        // Already gone (auto_destroy beat us to it): nothing left to do.
        if (err instanceof RemoteToolError && err.status === 404) return;
        last = err;
      }
    }
    if (failure === null) throw last;
  }

  private async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const where = `${method} ${new URL(this.base + path).pathname}`;
    let response: Response;
    let text: string;
    try {
      response = await this.fetcher(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      text = await response.text();
    } catch (err) {
      throw new RemoteToolError(`Fly Machines API ${where} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!response.ok) {
      let detail = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error?: unknown; detail?: unknown };
        if (typeof parsed.error === "string") detail = parsed.error;
        else if (typeof parsed.detail === "string") detail = parsed.detail;
      } catch {
        /* not JSON: keep the text */
      }
      throw new RemoteToolError(`Fly Machines API ${where} answered ${response.status}${detail ? `: ${detail}` : ""}`, { status: response.status });
    }
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new RemoteToolError(`Fly Machines API ${where} answered with something other than JSON`, { status: response.status });
    }
  }
}
