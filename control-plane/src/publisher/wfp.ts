import { NotFoundError } from "cloudflare/core/error";
import { Scripts, type ScriptUpdateParams } from "cloudflare/resources/workers-for-platforms/dispatch/namespaces/scripts/scripts";
import { createClient } from "cloudflare/tree-shakable";
import { crc32 } from "../../../core/auth/api-key";
import { HARNESS_MODULE, runtimeFlags, runtimeModules } from "../../../core/harness/modules";
import type { Publisher, VersionUpload } from "./types";

export interface WfpConfig {
  accountId: string;
  apiToken: string;
  namespace: string;
  /** The dispatcher's script name: user scripts' STORAGE and LLM bindings point at its entrypoints. */
  dispatcherScript: string;
}

const MODULE_TYPE = "application/javascript+module";

/**
 * A dispatch-namespace script per agent version, named by content: `ip-<tenant>-<agent crc>-<sha>`
 * (≤ 63 characters, as Workers script names must be). Content addressing makes a retried upload
 * idempotent, and a version's script never changes once a run may use it.
 */
export function wfpScriptName(tenantId: string, agent: string, sha256: string): string {
  return `ip-${tenantId.slice(4)}-${crc32(agent).toString(16).padStart(8, "0")}-${sha256.slice(0, 16)}`;
}

export const tenantTag = (tenantId: string) => `tenant-${tenantId}`;

/** Publishes agent versions to Workers for Platforms through the official `cloudflare` SDK. */
export class WfpPublisher implements Publisher {
  readonly kind = "wfp";
  // Only the dispatch-namespace scripts resource: the full client pulls in the whole API surface.
  private readonly client;

  constructor(private readonly config: WfpConfig) {
    this.client = createClient({ apiToken: config.apiToken, maxRetries: 2, resources: [Scripts] });
  }

  private get scope() {
    return { account_id: this.config.accountId, dispatch_namespace: this.config.namespace };
  }

  async upload(v: VersionUpload): Promise<string> {
    const scriptName = wfpScriptName(v.tenantId, v.agent, v.sha256);
    const props = { tenantId: v.tenantId };
    const limits = {
      ...(v.limits.cpuMs !== null ? { cpu_ms: v.limits.cpuMs } : {}),
      ...(v.limits.subrequests !== null ? { subrequests: v.limits.subrequests } : {}),
    };
    const metadata = {
      main_module: HARNESS_MODULE,
      compatibility_date: v.bundle.compatibilityDate,
      compatibility_flags: runtimeFlags(v.bundle),
      // The platform's entrypoints, with the tenant fixed in props: the script cannot choose it.
      bindings: [
        { type: "service", name: "STORAGE", service: this.config.dispatcherScript, entrypoint: "TenantStorage", props },
        { type: "service", name: "LLM", service: this.config.dispatcherScript, entrypoint: "TenantLlm", props },
      ],
      tags: [tenantTag(v.tenantId), `agent-${v.agent}`],
      // CPU metering: every invocation's trace goes to the platform's tail Worker (dispatcher/tail/).
      tail_consumers: [{ service: "isoplane-tail" }],
      ...(Object.keys(limits).length ? { limits } : {}),
    };
    const modules: Record<string, File> = {};
    for (const [name, code] of Object.entries(runtimeModules(v.bundle))) modules[name] = new File([code], name, { type: MODULE_TYPE });
    // The SDK's v7 call shape, with two corrections for its generic multipart encoder
    // (cloudflare-typescript issue #2799): it flattens objects and arrays into
    // `metadata[main_module]` and `files[]` parts, which the API rejects, so metadata goes as one
    // JSON part and each module as a part named by its file name — the shape Cloudflare's upload
    // API defines; and it forces `Content-Type: application/javascript` on the request, which
    // would hide the multipart boundary, so that header is dropped and fetch sets it from the form.
    const params = {
      ...this.scope,
      metadata: new File([JSON.stringify(metadata)], "metadata.json", { type: "application/json" }),
      ...modules,
    } as unknown as ScriptUpdateParams;
    await this.client.workersForPlatforms.dispatch.namespaces.scripts.update(scriptName, params, {
      headers: { "Content-Type": null },
    });
    await this.putSecrets(scriptName, v.secrets);
    return scriptName;
  }

  async putSecrets(scriptName: string, secrets: Record<string, string>): Promise<void> {
    for (const [name, text] of Object.entries(secrets)) {
      await this.client.workersForPlatforms.dispatch.namespaces.scripts.secrets.update(scriptName, {
        ...this.scope,
        name,
        text,
        type: "secret_text",
      });
    }
  }

  async deleteSecret(scriptNames: string[], name: string): Promise<void> {
    for (const scriptName of scriptNames) {
      try {
        await this.client.workersForPlatforms.dispatch.namespaces.scripts.secrets.delete(name, { ...this.scope, script_name: scriptName });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  async deleteScripts(scriptNames: string[]): Promise<void> {
    for (const scriptName of scriptNames) {
      try {
        await this.client.workersForPlatforms.dispatch.namespaces.scripts.delete(scriptName, { ...this.scope, force: true });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  /** "Delete Scripts in Namespace" filtered by the tenant's tag, until none is left. */
  async deleteTenant(tenantId: string): Promise<void> {
    const path = `/accounts/${this.config.accountId}/workers/dispatch/namespaces/${this.config.namespace}/scripts`;
    for (let round = 0; round < 100; round++) {
      const result = (await this.client.delete(path, { query: { tags: `${tenantTag(tenantId)}:yes`, limit: 100 } })) as {
        result?: { has_more?: boolean };
      };
      if (!result?.result?.has_more) return;
    }
  }
}

export function wfpConfig(env: {
  CF_ACCOUNT_ID?: string;
  CF_API_TOKEN?: string;
  DISPATCH_NAMESPACE?: string;
  DISPATCHER_SCRIPT_NAME?: string;
}): WfpConfig {
  const missing = (["CF_ACCOUNT_ID", "CF_API_TOKEN", "DISPATCH_NAMESPACE"] as const).filter((k) => !env[k]);
  if (missing.length) throw new Error(`PUBLISHER=wfp needs ${missing.join(", ")}`);
  return {
    accountId: env.CF_ACCOUNT_ID!,
    apiToken: env.CF_API_TOKEN!,
    namespace: env.DISPATCH_NAMESPACE!,
    dispatcherScript: env.DISPATCHER_SCRIPT_NAME ?? "isoplane-dispatcher",
  };
}
