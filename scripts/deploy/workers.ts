/**
 * The platform's four production Workers, in the order a deploy must create them: the tail
 * consumer first (every agent script names it in `tail_consumers`), then the outbound Worker (the
 * dispatch namespace binding names it), the dispatcher, and the control plane. Worker names are
 * fixed: agent scripts' bindings and the dispatch namespace's outbound Worker refer to them.
 */
export const WORKERS = {
  tail: { name: "isoplane-tail", config: "dispatcher/tail/wrangler.toml", label: "tail consumer" },
  outbound: { name: "isoplane-outbound", config: "dispatcher/outbound/wrangler.toml", label: "outbound Worker" },
  dispatcher: { name: "isoplane-dispatcher", config: "wrangler.toml", label: "dispatcher" },
  controlPlane: { name: "isoplane-control-plane", config: "control-plane/wrangler.toml", label: "control plane" },
} as const;

export type WorkerKey = keyof typeof WORKERS;

/** Dependency order: each Worker only refers to Workers deployed before it. */
export const DEPLOY_ORDER: readonly WorkerKey[] = ["tail", "outbound", "dispatcher", "controlPlane"];

/** The wrangler environment every production section lives in. */
export const ENV = "production";

/**
 * Queue names as committed in the wrangler configs; the deploy config may rename each (a queue
 * name in a committed config that is not listed here is an error, so none is deployed unwired).
 */
export const COMMITTED_QUEUES = {
  runs: "isoplane-runs",
  ledger: "isoplane-ledger",
  metering: "isoplane-metering",
  meteringDeadLetter: "isoplane-metering-dlq",
} as const;

/**
 * Secrets each Worker gets from the deploy's environment (`wrangler secret put`, value on stdin).
 * `required: false` ones are set only when present.
 */
export const SECRETS: Record<WorkerKey, readonly { name: string; required: boolean; description: string }[]> = {
  tail: [],
  outbound: [],
  dispatcher: [
    { name: "SECRETS_KEY", required: true, description: "the platform key sealing agent secrets (32 bytes, base64)" },
  ],
  controlPlane: [
    { name: "ADMIN_TOKEN", required: true, description: "the operator's credential for /admin" },
    { name: "SECRETS_KEY", required: true, description: "the same platform key as the dispatcher's" },
    { name: "CF_API_TOKEN", required: true, description: "a Cloudflare API token with Workers Scripts Write, for publishing agent scripts" },
  ],
};

/**
 * Workers' size limit: 10 MiB compressed on the Workers Paid plan, which Workers for Platforms
 * requires (3 MiB on the Free plan). https://developers.cloudflare.com/workers/platform/limits/#worker-size
 */
export const SIZE_LIMIT_GZIP = 10 * 1024 * 1024;
export const SIZE_LIMIT_LABEL = "10 MiB compressed (Workers Paid; Workers for Platforms requires it)";

/** The operator dashboard's JavaScript for its first page, gzipped (it ships inside the control plane). */
export const DASHBOARD_JS_LIMIT_GZIP = 200_000;
export const DASHBOARD_JS_LIMIT_LABEL = "200 KB gzipped";
