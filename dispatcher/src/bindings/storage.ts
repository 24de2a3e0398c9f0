import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../env";
import { ProblemError } from "../../../core/http/problem";
import { keyTooLong, maxKeyBytes, parseRelativeKey, tenantKey, tenantPrefix } from "../../../core/storage/keys";
import { writeWithinQuota } from "../quota/storage";
import { refusalMessage } from "../quota/storage-bytes";
import { runStub } from "../runs/stubs";
import type { UsageDelta } from "../runs/state";

export interface TenantProps {
  tenantId: string;
}

/** Largest value a script may write in one `put` (the run's output has its own cap). */
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
const MAX_LIST = 1000;
/** The files the platform writes into a run's results: the run's output and an async run's input. */
const PLATFORM_FILES = /^results\/[^/]+\/(output|input)\.json$/;
const NOT_RUNNING = "platform bindings only work during a run of this tenant (this run is not running)";

/**
 * `env.STORAGE` inside a tenant isolate. The tenant comes from the entrypoint's props, fixed by
 * the platform when the isolate is created; keys are relative to `tenants/<tenantId>/` and are
 * validated segment by segment, so no key a script passes can leave that prefix.
 * The `runId` argument (added by the platform's harness) names the run charged: every operation
 * is refused unless that run of this tenant is running now, and is counted by the run's object.
 */
export class TenantStorage extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  async get(key: string, runId: string): Promise<string | null> {
    const r2Key = this.key(key);
    await this.charge(runId, { storageReads: 1 });
    const object = await this.env.BUCKET.get(r2Key);
    if (!object) return null;
    const text = await object.text();
    await runStub(this.env, this.ctx.props.tenantId, runId).charge(this.ctx.props.tenantId, { bytesRead: object.size });
    return text;
  }

  async put(key: string, value: string, runId: string): Promise<void> {
    if (typeof value !== "string") throw new TypeError("STORAGE.put(key, value): value must be a string");
    // UTF-8 is never shorter than the UTF-16 length: a value surely too large is refused before encoding it.
    if (value.length > MAX_VALUE_BYTES) throw new RangeError(`STORAGE.put: value is larger than ${MAX_VALUE_BYTES} bytes`);
    if (typeof key === "string" && PLATFORM_FILES.test(key)) {
      throw new TypeError("STORAGE.put: results/<runId>/output.json and input.json are written by the platform (a run's output and an async run's input); use another name");
    }
    const bytes = new TextEncoder().encode(value);
    if (bytes.byteLength > MAX_VALUE_BYTES) throw new RangeError(`STORAGE.put: value is larger than ${MAX_VALUE_BYTES} bytes`);
    const r2Key = this.key(key);
    const tenantId = this.ctx.props.tenantId;
    if (typeof runId !== "string" || !/^run_[0-9a-z]{20}$/.test(runId)) throw new Error(NOT_RUNNING);
    const run = runStub(this.env, tenantId, runId);
    const begun = await run.storageBegin(tenantId, bytes.byteLength);
    if (begun === "refused") throw new Error(NOT_RUNNING);
    if (begun === "charged") {
      await this.env.BUCKET.put(r2Key, bytes);
      return;
    }
    // The tenant has a storageBytes quota: the bytes are reserved first, the write charged once stored.
    let written;
    try {
      written = await writeWithinQuota(this.env, tenantId, true, r2Key.slice(tenantPrefix(tenantId).length), bytes.byteLength, () => this.env.BUCKET.put(r2Key, bytes));
    } catch (err) {
      if (err instanceof ProblemError) throw new Error(`STORAGE.put: ${err.message}`);
      throw err;
    }
    if (!written.ok) throw new RangeError(refusalMessage(written.refusal));
    // Charged even if the run was stopped meanwhile (a late charge): the bytes were written.
    await run.charge(tenantId, { storageWrites: 1, bytesWritten: bytes.byteLength }, true);
  }

  /** Keys (relative to the tenant prefix) that start with `prefix`, at most 1000. */
  async list(prefix: string, runId: string): Promise<string[]> {
    if (typeof prefix !== "string") throw new TypeError("STORAGE.list: prefix must be a string");
    const base = tenantPrefix(this.ctx.props.tenantId);
    // A prefix may end mid-segment ("context/rep"), so only its complete segments are validated.
    const cut = prefix.lastIndexOf("/");
    if (cut >= 0) this.key(prefix.slice(0, cut));
    const tail = prefix.slice(cut + 1);
    if (/[\\\u0000-\u001f\u007f]/.test(tail)) throw new TypeError("STORAGE.list: invalid prefix");
    const bytes = new TextEncoder().encode(prefix).byteLength;
    if (bytes > maxKeyBytes("tenant")) throw new TypeError(`STORAGE: ${keyTooLong("tenant", bytes, "prefix").message}`);
    await this.charge(runId, { storageReads: 1 });
    const listed = await this.env.BUCKET.list({ prefix: base + prefix, limit: MAX_LIST });
    return listed.objects.map((o) => o.key.slice(base.length));
  }

  private async charge(runId: string, delta: UsageDelta): Promise<void> {
    if (typeof runId !== "string" || !/^run_[0-9a-z]{20}$/.test(runId)) throw new Error(NOT_RUNNING);
    if (!(await runStub(this.env, this.ctx.props.tenantId, runId).charge(this.ctx.props.tenantId, delta))) throw new Error(NOT_RUNNING);
  }

  /** The stored key, or the same refusal the HTTP API gives (its `invalid-key` detail) as a TypeError. */
  private key(key: string): string {
    if (typeof key !== "string") throw new TypeError("STORAGE: key must be a string");
    try {
      return tenantKey(this.ctx.props.tenantId, parseRelativeKey(key));
    } catch (err) {
      throw new TypeError(`STORAGE: ${(err as Error).message}`);
    }
  }
}
