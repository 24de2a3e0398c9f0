import { describe, expect, it } from "vitest";
import { parseArgs, parseJsonc, routeHosts, secretValues, UsageError, validateDeployConfig, type DeployConfig } from "../scripts/deploy/config.ts";
import { ConfigError, renderConfigs, resolvePath, type RawConfig } from "../scripts/deploy/render.ts";
import {
  deploy,
  DeployError,
  dryRunArgs,
  parseD1List,
  parseDeployOutput,
  parseNamespaceList,
  parseQueueList,
  parseR2BucketList,
  wranglerWarnings,
  type Runner,
  type WranglerResult,
} from "../scripts/deploy/steps.ts";
import { DEPLOY_ORDER, WORKERS, type WorkerKey } from "../scripts/deploy/workers.ts";

// `npm run deploy` cannot reach a Cloudflare account here, so its parts are tested one by one:
// arguments, the deploy config, the wrangler configs it renders, how it reads wrangler's output,
// and the exact sequence of wrangler commands it runs, against a fake wrangler. The dry run
// (`npm run deploy -- --dry-run`, part of `npm test`) builds the real bundles from the real files.

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const D1_ID = "7c1e5f2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const SECRETS_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
const ADMIN_TOKEN = "adm_0123456789abcdefghijklmnopqrstuv";

function valid(raw: unknown = {}, env: Record<string, string> = {}, mode: "deploy" | "dry-run" = "dry-run"): DeployConfig {
  const { config, errors } = validateDeployConfig(raw, env, mode);
  expect(errors).toEqual([]);
  return config;
}

const errorsOf = (raw: unknown, env: Record<string, string> = {}, mode: "deploy" | "dry-run" = "dry-run") => validateDeployConfig(raw, env, mode).errors;

// The committed wrangler configs as wrangler's TOML reader returns them (kept in step with the
// files; the dry run checks the files themselves).
const D1_LOCAL = { binding: "DB", database_name: "isoplane", database_id: "00000000-0000-4000-8000-000000000001" };
function committed(): Record<WorkerKey, RawConfig> {
  const base = { compatibility_date: "2026-11-01", compatibility_flags: ["nodejs_compat"], upload_source_maps: true };
  return {
    tail: {
      name: "isoplane-tail",
      main: "index.ts",
      ...base,
      vars: { DISPATCH_NAMESPACE: "isoplane" },
      d1_databases: [D1_LOCAL],
      queues: {
        producers: [{ binding: "METERING", queue: "isoplane-metering" }],
        consumers: [{ queue: "isoplane-metering", max_batch_size: 100, max_retries: 10, dead_letter_queue: "isoplane-metering-dlq" }],
      },
      env: {
        production: {
          name: "isoplane-tail",
          minify: true,
          vars: { DISPATCH_NAMESPACE: "isoplane" },
          d1_databases: [{ binding: "DB", database_name: "isoplane" }],
          queues: {
            producers: [{ binding: "METERING", queue: "isoplane-metering" }],
            consumers: [{ queue: "isoplane-metering", max_batch_size: 100, max_retries: 10, dead_letter_queue: "isoplane-metering-dlq" }],
          },
        },
      },
    },
    outbound: {
      name: "isoplane-outbound",
      main: "index.ts",
      ...base,
      d1_databases: [D1_LOCAL],
      env: { production: { name: "isoplane-outbound", minify: true, d1_databases: [{ binding: "DB", database_name: "isoplane" }] } },
    },
    dispatcher: {
      name: "isoplane-dispatcher",
      main: "dispatcher/src/index.ts",
      ...base,
      vars: { LLM_PROVIDER: "builtin" },
      worker_loaders: [{ binding: "LOADER" }],
      durable_objects: { bindings: [{ name: "QUOTA", class_name: "TenantQuota" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["TenantQuota"] }],
      queues: { producers: [{ binding: "RUNS", queue: "isoplane-runs" }], consumers: [{ queue: "isoplane-runs", max_batch_size: 10 }] },
      d1_databases: [{ ...D1_LOCAL, migrations_dir: "migrations" }],
      r2_buckets: [{ binding: "BUCKET", bucket_name: "isoplane" }],
      env: {
        production: {
          name: "isoplane-dispatcher",
          minify: true,
          vars: { RUNTIME: "wfp", LLM_PROVIDER: "builtin" },
          worker_loaders: [],
          dispatch_namespaces: [{ binding: "DISPATCHER", namespace: "isoplane", outbound: { service: "isoplane-outbound", parameters: ["tenantId", "runId"] } }],
          durable_objects: { bindings: [{ name: "QUOTA", class_name: "TenantQuota" }] },
          queues: { producers: [{ binding: "RUNS", queue: "isoplane-runs" }], consumers: [{ queue: "isoplane-runs", max_batch_size: 10 }] },
          d1_databases: [{ binding: "DB", database_name: "isoplane", migrations_dir: "migrations" }],
          r2_buckets: [{ binding: "BUCKET", bucket_name: "isoplane" }],
        },
      },
    },
    controlPlane: {
      name: "isoplane-control-plane",
      main: "src/index.ts",
      ...base,
      d1_databases: [{ ...D1_LOCAL, migrations_dir: "../migrations" }],
      r2_buckets: [{ binding: "BUCKET", bucket_name: "isoplane" }],
      env: {
        production: {
          name: "isoplane-control-plane",
          minify: true,
          vars: { PUBLISHER: "wfp", DISPATCH_NAMESPACE: "isoplane", DISPATCHER_SCRIPT_NAME: "isoplane-dispatcher" },
          d1_databases: [{ binding: "DB", database_name: "isoplane", migrations_dir: "../migrations" }],
          r2_buckets: [{ binding: "BUCKET", bucket_name: "isoplane" }],
        },
      },
    },
  };
}
const DIRS: Record<WorkerKey, string> = {
  tail: "/repo/dispatcher/tail",
  outbound: "/repo/dispatcher/outbound",
  dispatcher: "/repo",
  controlPlane: "/repo/control-plane",
};

type Obj = Record<string, any>;
const prod = (rendered: Obj) => rendered.env.production as Obj;

describe("npm run deploy: arguments and the deploy config", () => {
  it("parses its arguments and refuses unknown ones", () => {
    expect(parseArgs([])).toEqual({ dryRun: false, configPath: null, skipSecrets: false, help: false });
    expect(parseArgs(["--dry-run", "--config", "prod.jsonc", "--skip-secrets"])).toEqual({ dryRun: true, configPath: "prod.jsonc", skipSecrets: true, help: false });
    expect(parseArgs(["--config=staging.jsonc"]).configPath).toBe("staging.jsonc");
    expect(parseArgs(["-h"]).help).toBe(true);
    expect(() => parseArgs(["--dryrun"])).toThrow(UsageError);
    expect(() => parseArgs(["--config"])).toThrow(/needs a file/);
    expect(() => parseArgs(["--config", "--dry-run"])).toThrow(/needs a file/);
  });

  it("reads JSON with comments and trailing commas, leaving strings alone", () => {
    const text = `// the deploy
{
  /* block
     comment */ "a": "https://example.com/x", // not a comment inside the string above
  "b": ["x // y", "/* z */",],
  "c": { "d": "quote \\" // still a string", },
}`;
    expect(parseJsonc(text)).toEqual({ a: "https://example.com/x", b: ["x // y", "/* z */"], c: { d: 'quote " // still a string' } });
    expect(() => parseJsonc("{ nope }")).toThrow();
  });

  it("an empty config is the defaults; a real deploy needs an account", () => {
    expect(valid({})).toEqual({
      accountId: null,
      d1: { name: "isoplane", id: null, location: null },
      r2: { bucket: "isoplane", location: null },
      dispatchNamespace: "isoplane",
      queues: { runs: "isoplane-runs", ledger: "isoplane-ledger", metering: "isoplane-metering", meteringDeadLetter: "isoplane-metering-dlq" },
      dispatcher: { workersDev: true, routes: [] },
      controlPlane: { workersDev: true, routes: [] },
      platformHosts: [],
      llm: { provider: "builtin", baseUrl: null, model: null, gateway: null, secrets: [], workersAi: false },
    });
    expect(errorsOf({}, {}, "deploy")).toEqual(["no Cloudflare account: set CLOUDFLARE_ACCOUNT_ID or accountId in the deploy config"]);
    expect(valid({ accountId: ACCOUNT }, {}, "deploy").accountId).toBe(ACCOUNT);
    // The environment wins over the file.
    const other = "fedcba9876543210fedcba9876543210";
    expect(valid({ accountId: ACCOUNT }, { CLOUDFLARE_ACCOUNT_ID: other }, "deploy").accountId).toBe(other);
  });

  it("reports every mistake, misspelt fields included", () => {
    expect(
      errorsOf({
        accountId: "abc",
        d1: { name: "Bad_Name", id: "not-a-uuid", location: "mars" },
        r2: { bucket: "ok-bucket", region: "weur" },
        queues: { runs: "same", metering: "same" },
        dispatchNamespce: "typo",
        dispatcher: { workersDev: false, routes: [] },
        controlPlane: { routes: [{ pattern: "*.example.com/*", custom_domain: true }, { zone_name: "example.com" }] },
        platformHosts: ["not a host"],
        llm: { provider: "openai" },
      }),
    ).toEqual([
      "dispatchNamespce is not a known field",
      "r2.region is not a known field",
      'accountId "abc" is not valid (32 hex characters)',
      "llm.provider openai needs llm.baseUrl and llm.model",
      'platformHosts[0] "not a host" is not valid (a host name such as api.example.com)',
      'd1.name "Bad_Name" is not valid (3-63 lower-case letters, digits and dashes)',
      'd1.id "not-a-uuid" is not valid (a D1 database UUID)',
      'd1.location "mars" is not one of weur, eeur, apac, oc, wnam, enam',
      "dispatcher has neither workersDev nor routes: nothing could reach it",
      'controlPlane.routes[0].pattern "*.example.com/*" must be a plain host name for a custom domain',
      "controlPlane.routes[1].pattern is required",
      "queues.runs, queues.ledger, queues.metering and queues.meteringDeadLetter must be four different queues",
    ]);
    expect(errorsOf({ llm: { provider: "anthropic" } })).toEqual(["llm.provider anthropic needs llm.model"]);
    expect(errorsOf({ llm: { provider: "mystery" } })).toEqual(['llm.provider "mystery" is not builtin, openai or anthropic']);
    expect(errorsOf([])).toEqual(["the config must be an object"]);
  });

  it("the example config documents a valid configuration", async () => {
    // @ts-expect-error -- Vite's `?raw` import: the file's text (no type declarations for it here).
    const example = (await import("../isoplane.deploy.example.jsonc?raw")).default as string;
    const documented = valid(parseJsonc(example));
    // It shows the gateway's own form, with the built-in model as the default: the same as no llm at all.
    expect({ ...documented, llm: { ...documented.llm, gateway: null } }).toEqual(valid({}));
    expect(JSON.parse(documented.llm.gateway!)).toEqual({ providers: {}, defaultModel: "builtin/isoplane-echo" });
  });

  it("secrets come from the environment; missing and unusable ones are named", () => {
    const config = valid({});
    const env = { ADMIN_TOKEN, SECRETS_KEY, CF_API_TOKEN: "cf-token" };
    const ok = secretValues(env, config, false);
    expect(ok.errors).toEqual([]);
    expect(ok.byWorker).toEqual({
      tail: [],
      outbound: [],
      dispatcher: [{ name: "SECRETS_KEY", value: SECRETS_KEY }],
      controlPlane: [
        { name: "ADMIN_TOKEN", value: ADMIN_TOKEN },
        { name: "SECRETS_KEY", value: SECRETS_KEY },
        { name: "CF_API_TOKEN", value: "cf-token" },
      ],
    });
    // The built-in model needs no key: one in the environment is not deployed.
    expect(secretValues({ ...env, LLM_API_KEY: "sk-1" }, config, false).byWorker.dispatcher).toEqual([{ name: "SECRETS_KEY", value: SECRETS_KEY }]);
    expect(secretValues({ ...env, LLM_API_KEY: "sk-1" }, valid({ llm: { provider: "anthropic", model: "claude" } }), false).byWorker.dispatcher).toEqual([
      { name: "SECRETS_KEY", value: SECRETS_KEY },
      { name: "LLM_API_KEY", value: "sk-1" },
    ]);
    expect(secretValues({}, config, false).errors).toEqual([
      "SECRETS_KEY (the platform key sealing agent secrets (32 bytes, base64)) is not set in the environment",
      "ADMIN_TOKEN (the operator's credential for /admin) is not set in the environment",
      "CF_API_TOKEN (a Cloudflare API token with Workers Scripts Write, for publishing agent scripts) is not set in the environment",
    ]);
    expect(secretValues({ ...env, SECRETS_KEY: btoa("too short"), ADMIN_TOKEN: "short" }, config, false).errors).toEqual([
      "SECRETS_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)",
      "ADMIN_TOKEN must be at least 24 characters",
    ]);
    const anthropic = valid({ llm: { provider: "anthropic", model: "claude" } });
    expect(secretValues(env, anthropic, false).errors).toEqual([
      "LLM_API_KEY (the model provider's API key (not needed for the built-in model)) is not set in the environment",
    ]);
    expect(secretValues({}, config, true)).toEqual({ byWorker: { tail: [], outbound: [], dispatcher: [], controlPlane: [] }, errors: [] });
  });
});

describe("npm run deploy: the wrangler configs it renders", () => {
  it("resolves paths like a shell would", () => {
    expect(resolvePath("/repo/dispatcher/tail", "index.ts")).toBe("/repo/dispatcher/tail/index.ts");
    expect(resolvePath("/repo/control-plane", "../migrations")).toBe("/repo/migrations");
    expect(resolvePath("/repo", "./dispatcher/src/index.ts")).toBe("/repo/dispatcher/src/index.ts");
    expect(resolvePath("/repo", "/abs/x.ts")).toBe("/abs/x.ts");
  });

  it("fills in the account's values and makes every path absolute, from the committed configs", () => {
    const config = valid({
      accountId: ACCOUNT,
      d1: { name: "acme-platform" },
      r2: { bucket: "acme-bucket" },
      dispatchNamespace: "acme-agents",
      queues: { runs: "acme-runs", ledger: "acme-ledger", metering: "acme-metering", meteringDeadLetter: "acme-metering-dlq" },
      dispatcher: { workersDev: false, routes: [{ pattern: "*.agents.acme.dev/*", zone_name: "acme.dev" }] },
      controlPlane: { routes: [{ pattern: "admin.acme.dev", custom_domain: true }] },
      platformHosts: ["acme.workers.dev"],
      llm: { provider: "openai", baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini" },
    });
    const out = renderConfigs({ raw: committed(), dirs: DIRS, config, d1Id: D1_ID }) as Record<WorkerKey, Obj>;

    for (const key of DEPLOY_ORDER) {
      expect(out[key].account_id).toBe(ACCOUNT);
      expect(prod(out[key]).name).toBe(WORKERS[key].name);
      expect(Object.keys(out[key].env)).toEqual(["production"]);
      for (const db of prod(out[key]).d1_databases) expect(db).toMatchObject({ binding: "DB", database_name: "acme-platform", database_id: D1_ID });
    }
    expect(out.tail.main).toBe("/repo/dispatcher/tail/index.ts");
    expect(out.outbound.main).toBe("/repo/dispatcher/outbound/index.ts");
    expect(out.dispatcher.main).toBe("/repo/dispatcher/src/index.ts");
    expect(out.controlPlane.main).toBe("/repo/control-plane/src/index.ts");
    expect(prod(out.dispatcher).d1_databases[0].migrations_dir).toBe("/repo/migrations");
    expect(prod(out.controlPlane).d1_databases[0].migrations_dir).toBe("/repo/migrations");

    const dispatcher = prod(out.dispatcher);
    expect(dispatcher.dispatch_namespaces).toEqual([
      { binding: "DISPATCHER", namespace: "acme-agents", outbound: { service: "isoplane-outbound", parameters: ["tenantId", "runId"] } },
    ]);
    expect(dispatcher.queues).toEqual({ producers: [{ binding: "RUNS", queue: "acme-runs" }], consumers: [{ queue: "acme-runs", max_batch_size: 10 }] });
    expect(dispatcher.r2_buckets).toEqual([{ binding: "BUCKET", bucket_name: "acme-bucket" }]);
    expect(dispatcher.vars).toEqual({
      RUNTIME: "wfp",
      LLM_PROVIDER: "openai",
      LLM_BASE_URL: "https://api.openai.com/v1",
      LLM_MODEL: "gpt-4o-mini",
      PLATFORM_HOSTS: "acme.workers.dev,agents.acme.dev,admin.acme.dev",
    });
    expect(dispatcher.workers_dev).toBe(false);
    expect(dispatcher.routes).toEqual([{ pattern: "*.agents.acme.dev/*", zone_name: "acme.dev" }]);
    // `worker_loaders = []` in production: the local Worker Loader is left out of the deploy.
    expect(out.dispatcher.worker_loaders).toBeUndefined();

    expect(prod(out.controlPlane).vars).toEqual({
      // The control plane checks default models and tenant keys against the same settings.
      LLM_PROVIDER: "openai",
      LLM_BASE_URL: "https://api.openai.com/v1",
      LLM_MODEL: "gpt-4o-mini",
      PUBLISHER: "wfp",
      DISPATCH_NAMESPACE: "acme-agents",
      DISPATCHER_SCRIPT_NAME: "isoplane-dispatcher",
      CF_ACCOUNT_ID: ACCOUNT,
    });
    expect(prod(out.controlPlane)).toMatchObject({ workers_dev: true, routes: [{ pattern: "admin.acme.dev", custom_domain: true }] });
    expect(prod(out.outbound)).toMatchObject({ workers_dev: false, vars: { PLATFORM_HOSTS: "acme.workers.dev,agents.acme.dev,admin.acme.dev" } });
    expect(prod(out.tail)).toMatchObject({
      workers_dev: false,
      vars: { DISPATCH_NAMESPACE: "acme-agents" },
      queues: {
        producers: [{ binding: "METERING", queue: "acme-metering" }],
        consumers: [{ queue: "acme-metering", max_batch_size: 100, max_retries: 10, dead_letter_queue: "acme-metering-dlq" }],
      },
    });
  });

  it("the model gateway's own form: LLM_PROVIDERS on both Workers, its named secrets required, the AI binding for workers-ai", () => {
    const gateway = {
      providers: {
        openai: { type: "openai", baseUrl: "https://api.openai.com/v1", apiKeySecret: "OPENAI_API_KEY" },
        modal: { type: "modal", baseUrl: "https://acme--vllm-serve.modal.run/v1", keySecret: "MODAL_KEY", secretSecret: "MODAL_SECRET" },
        cf: { type: "workers-ai" },
      },
      aliases: { fast: "cf/@cf/meta/llama-3.1-8b-instruct" },
      defaultModel: "fast",
    };
    const config = valid({ llm: gateway });
    expect(config.llm).toEqual({ provider: "builtin", baseUrl: null, model: null, gateway: JSON.stringify(gateway), secrets: ["OPENAI_API_KEY", "MODAL_KEY", "MODAL_SECRET"], workersAi: true });
    const out = renderConfigs({ raw: committed(), dirs: DIRS, config, d1Id: D1_ID }) as Record<WorkerKey, Obj>;
    expect(prod(out.dispatcher).vars.LLM_PROVIDERS).toBe(JSON.stringify(gateway));
    expect(prod(out.dispatcher).vars.LLM_PROVIDER).toBe("builtin");
    expect(prod(out.dispatcher).ai).toEqual({ binding: "AI" });
    expect(prod(out.controlPlane).vars.LLM_PROVIDERS).toBe(JSON.stringify(gateway));
    expect(prod(out.controlPlane).ai).toBeUndefined();
    const env = { SECRETS_KEY: btoa("0123456789abcdef0123456789abcdef"), ADMIN_TOKEN: "adm_0123456789abcdefghijklmn", CF_API_TOKEN: "cf", OPENAI_API_KEY: "sk-1", MODAL_KEY: "wk-1" };
    const secrets = secretValues(env, config, false);
    expect(secrets.byWorker.dispatcher.map((x) => x.name)).toEqual(["SECRETS_KEY", "OPENAI_API_KEY", "MODAL_KEY"]);
    expect(secrets.errors).toEqual(["MODAL_SECRET (a model provider's key, named in llm) is not set in the environment"]);
    // The Workers' own parser refuses a bad one, naming the field.
    expect(errorsOf({ llm: { ...gateway, aliases: { fast: "cff/x" } } })).toEqual(['llm: aliases.fast: unknown model "cff/x": no provider named "cff" is configured (providers: builtin, openai, modal, cf)']);
    expect(errorsOf({ llm: { providers: {}, provider: "openai" } })).toEqual(["llm.provider is not a known field"]);
  });

  it("a dry run without a database id renders none (wrangler builds without it)", () => {
    const out = renderConfigs({ raw: committed(), dirs: DIRS, config: valid({}), d1Id: null }) as Record<WorkerKey, Obj>;
    for (const key of DEPLOY_ORDER) {
      expect(out[key].account_id).toBeUndefined();
      for (const db of prod(out[key]).d1_databases) expect(db.database_id).toBeUndefined();
    }
    expect(prod(out.controlPlane).vars.CF_ACCOUNT_ID).toBeUndefined();
  });

  it("refuses committed configs that would deploy something else than intended", () => {
    const raw = committed();
    (raw.dispatcher.env as Obj).production.name = undefined;
    (raw.dispatcher.env as Obj).production.dispatch_namespaces[0].outbound.service = "somewhere";
    (raw.tail.env as Obj).production.queues.producers.push({ binding: "EXTRA", queue: "unwired-queue" });
    (raw.controlPlane.env as Obj).production.vars.PUBLISHER = "local";
    delete raw.outbound.env;
    expect(() => renderConfigs({ raw, dirs: DIRS, config: valid({}), d1Id: null })).toThrow(ConfigError);
    try {
      renderConfigs({ raw, dirs: DIRS, config: valid({}), d1Id: null });
    } catch (err) {
      expect((err as Error).message.split("\n")).toEqual([
        'dispatcher/tail/wrangler.toml: queue "unwired-queue" is not one the deploy knows (isoplane-runs, isoplane-ledger, isoplane-metering, isoplane-metering-dlq)',
        "dispatcher/outbound/wrangler.toml: has no [env.production] section",
        'wrangler.toml: [env.production] must set name = "isoplane-dispatcher" (it is "undefined")',
        'wrangler.toml: the dispatch namespace\'s outbound Worker must be "isoplane-outbound"',
        'control-plane/wrangler.toml: [env.production] must set PUBLISHER = "wfp"',
      ]);
    }
  });

  it("route host names are the platform's own hosts", () => {
    expect(routeHosts([{ pattern: "*.agents.acme.dev/*" }, { pattern: "api.acme.dev", custom_domain: true }, { pattern: "acme.dev/v1/*" }, { pattern: "*/*" }])).toEqual([
      "agents.acme.dev",
      "api.acme.dev",
      "acme.dev",
    ]);
  });
});

describe("npm run deploy: reading wrangler's output", () => {
  it("d1 list --json, even with a line before the JSON", () => {
    const out = `Listing databases…\n[{"uuid":"${D1_ID}","name":"isoplane","created_at":"2026-11-20T10:00:00.000Z","version":"production","num_tables":12,"file_size":180224}]`;
    expect(parseD1List(out)).toEqual([{ uuid: D1_ID, name: "isoplane" }]);
    expect(parseD1List("[]")).toEqual([]);
    expect(() => parseD1List("✘ [ERROR] Authentication error")).toThrow(DeployError);
  });

  it("r2 bucket list, dispatch-namespace list and queues list, which have no JSON output", () => {
    expect(parseR2BucketList("Listing buckets...\nname:           isoplane\ncreation_date:  2026-11-20T10:00:00.000Z\n\nname:           \u001b[90mbackups\u001b[39m\ncreation_date:  2026-11-21T10:00:00.000Z\n")).toEqual([
      "isoplane",
      "backups",
    ]);
    expect(parseNamespaceList("[\n  {\n    namespace_id: '0f3c1e2d-1111-4222-8333-444455556666',\n    namespace_name: 'isoplane',\n    script_count: 3,\n  }\n]")).toEqual(["isoplane"]);
    expect(parseNamespaceList('[{"namespace_id":"x","namespace_name":"staging"}]')).toEqual(["staging"]);
    expect(parseNamespaceList("[]")).toEqual([]);
    expect(parseQueueList(QUEUES_TABLE)).toEqual(["isoplane-runs", "other-queue"]);
    expect(parseQueueList("┌┐\n└┘")).toEqual([]);
  });

  it("the URLs, routes and version of a deploy", () => {
    expect(parseDeployOutput(DEPLOY_OUTPUT)).toEqual({
      urls: ["https://isoplane-dispatcher.acme.workers.dev", "https://api.acme.dev"],
      routes: ["*.agents.acme.dev/* (zone name: acme.dev)"],
      versionId: "0b7c7f3e-5d1a-4a0e-9d55-0a1c2b3d4e5f",
    });
  });

  it("wrangler's warnings, so the dry run can fail on them", () => {
    const output = `\n ⛅️ wrangler 4.164.0\n\u001b[33m▲ \u001b[43;33m[\u001b[43;30mWARNING\u001b[43;33m]\u001b[0m \u001b[1mProcessing wrangler.jsonc configuration:\u001b[0m\n\n    - "env.production" environment configuration\n      - "d1_databases" exists at the top level, but not on "env.production".\n\nTotal Upload: 4.48 KiB / gzip: 1.95 KiB\n--dry-run: exiting now.`;
    expect(wranglerWarnings(output)).toEqual([
      'Processing wrangler.jsonc configuration:\n- "env.production" environment configuration\n- "d1_databases" exists at the top level, but not on "env.production".',
    ]);
    expect(wranglerWarnings("Total Upload: 4.48 KiB / gzip: 1.95 KiB\n--dry-run: exiting now.")).toEqual([]);
    expect(dryRunArgs("/x/wrangler.jsonc", "/x/dist")).toEqual(["deploy", "--dry-run", "--env", "production", "--config", "/x/wrangler.jsonc", "--outdir", "/x/dist"]);
  });
});

const QUEUES_TABLE = `┌──────────────────────────────────┬───────────────┬─────────────────────────────┬─────────────────────────────┬───────────┬───────────┐
│ id                               │ name          │ created_on                  │ modified_on                 │ producers │ consumers │
├──────────────────────────────────┼───────────────┼─────────────────────────────┼─────────────────────────────┼───────────┼───────────┤
│ 5e1b9969eb974d8c99c48d19df104c7a │ isoplane-runs │ 2026-11-20T10:00:00.000000Z │ 2026-11-20T10:00:00.000000Z │ 1         │ 1         │
├──────────────────────────────────┼───────────────┼─────────────────────────────┼─────────────────────────────┼───────────┼───────────┤
│ 6f2c0a7afc084e9d8a0e2b6b3b9d2e11 │ other-queue   │ 2026-11-21T10:00:00.000000Z │ 2026-11-21T10:00:00.000000Z │ 0         │ 0         │
└──────────────────────────────────┴───────────────┴─────────────────────────────┴─────────────────────────────┴───────────┴───────────┘`;

const DEPLOY_OUTPUT = `Total Upload: 1264.60 KiB / gzip: 298.40 KiB
Worker Startup Time: 35 ms
Uploaded isoplane-dispatcher (4.10 sec)
Deployed isoplane-dispatcher triggers (0.84 sec)
  https://isoplane-dispatcher.acme.workers.dev
  api.acme.dev (custom domain)
  *.agents.acme.dev/* (zone name: acme.dev)
  Consumer for isoplane-runs
Current Version ID: 0b7c7f3e-5d1a-4a0e-9d55-0a1c2b3d4e5f`;

/**
 * A fake wrangler over an account's state: answers list commands as wrangler prints them,
 * creates what it is asked to, and records every call (arguments and stdin).
 */
function fakeWrangler(state: { d1: { uuid: string; name: string }[]; buckets: string[]; namespaces: string[]; queues: string[]; lifecycle?: string[] }, fail?: (args: string[]) => boolean) {
  const calls: { args: string[]; input?: string }[] = [];
  const written: Partial<Record<WorkerKey, Obj>> = {};
  const ok = (stdout = ""): WranglerResult => ({ code: 0, stdout, stderr: "" });
  const runner: Runner = {
    async wrangler(args, options) {
      calls.push({ args, ...(options?.input !== undefined ? { input: options.input } : {}) });
      if (fail?.(args)) return { code: 1, stdout: "", stderr: "✘ [ERROR] A request to the Cloudflare API failed.\nAuthentication error [code: 10000]" };
      const [a, b, c] = args;
      if (a === "whoami") return ok(JSON.stringify({ loggedIn: true }));
      if (a === "d1" && b === "list") return ok(JSON.stringify(state.d1));
      if (a === "d1" && b === "create") {
        state.d1.push({ uuid: D1_ID, name: c! });
        return ok(`✅ Successfully created DB '${c}'`);
      }
      if (a === "r2" && c === "lifecycle" && args[3] === "list") return ok(state.lifecycle?.includes(args[4]!) ? "name: isoplane-run-logs\nprefix: runs/" : "No lifecycle rules");
      if (a === "r2" && c === "lifecycle" && args[3] === "add") return (state.lifecycle ??= []).push(args[4]!), ok();
      if (a === "r2" && c === "list") return ok(`Listing buckets...\n${state.buckets.map((n) => `name:           ${n}\ncreation_date:  2026-11-20T10:00:00.000Z`).join("\n\n")}`);
      if (a === "r2" && c === "create") return state.buckets.push(args[3]!), ok();
      if (a === "dispatch-namespace" && b === "list") return ok(`[\n${state.namespaces.map((n) => `  { namespace_id: 'x', namespace_name: '${n}' }`).join(",\n")}\n]`);
      if (a === "dispatch-namespace" && b === "create") return state.namespaces.push(c!), ok();
      if (a === "queues" && b === "list") {
        const page = Number(args[3]);
        const names = page === 1 ? state.queues : [];
        return ok(names.length ? `│ id │ name │\n${names.map((n) => `│ q-${n} │ ${n} │`).join("\n")}` : "┌┐\n└┘");
      }
      if (a === "queues" && b === "create") return state.queues.push(c!), ok();
      if (a === "deploy") {
        const worker = DEPLOY_ORDER.find((k) => args.includes(`/gen/${k}.jsonc`))!;
        const url = worker === "dispatcher" || worker === "controlPlane" ? `  https://${WORKERS[worker].name}.acme.workers.dev\n` : "";
        return ok(`Uploaded ${WORKERS[worker].name}\nDeployed ${WORKERS[worker].name} triggers (0.5 sec)\n${url}Current Version ID: 00000000-0000-4000-8000-00000000000${DEPLOY_ORDER.indexOf(worker)}`);
      }
      return ok();
    },
    async writeConfig(worker, config) {
      written[worker] = config;
      return `/gen/${worker}.jsonc`;
    },
    log() {},
  };
  return { runner, calls, written };
}

function deployInput(secrets = secretValues({ ADMIN_TOKEN, SECRETS_KEY, CF_API_TOKEN: "cf-token" }, valid({}), false).byWorker) {
  return { config: valid({ accountId: ACCOUNT }, {}, "deploy"), raw: committed(), dirs: DIRS, secrets };
}

describe("npm run deploy: the wrangler commands it runs", () => {
  it("on a new account: creates everything, migrates, then sets secrets and deploys in dependency order", async () => {
    const { runner, calls, written } = fakeWrangler({ d1: [], buckets: [], namespaces: [], queues: [] });
    const result = await deploy(deployInput(), runner);
    expect(calls.map((c) => c.args.join(" "))).toEqual([
      "whoami --json",
      "d1 list --json",
      "d1 create isoplane",
      "d1 list --json",
      "r2 bucket list",
      "r2 bucket create isoplane",
      "r2 bucket lifecycle list isoplane",
      "r2 bucket lifecycle add isoplane isoplane-run-logs runs/ --expire-days 3660 --force",
      "dispatch-namespace list",
      "dispatch-namespace create isoplane",
      "queues list --page 1",
      "queues create isoplane-runs",
      "queues create isoplane-ledger",
      "queues create isoplane-metering",
      "queues create isoplane-metering-dlq",
      "d1 migrations apply DB --remote --env production --config /gen/dispatcher.jsonc",
      "deploy --env production --config /gen/tail.jsonc",
      "deploy --env production --config /gen/outbound.jsonc",
      "secret put SECRETS_KEY --env production --config /gen/dispatcher.jsonc",
      "deploy --env production --config /gen/dispatcher.jsonc",
      "secret put ADMIN_TOKEN --env production --config /gen/controlPlane.jsonc",
      "secret put SECRETS_KEY --env production --config /gen/controlPlane.jsonc",
      "secret put CF_API_TOKEN --env production --config /gen/controlPlane.jsonc",
      "deploy --env production --config /gen/controlPlane.jsonc",
    ]);
    // Secret values travel on stdin only.
    expect(calls.filter((c) => c.input !== undefined).map((c) => [c.args[2], c.input])).toEqual([
      ["SECRETS_KEY", SECRETS_KEY],
      ["ADMIN_TOKEN", ADMIN_TOKEN],
      ["SECRETS_KEY", SECRETS_KEY],
      ["CF_API_TOKEN", "cf-token"],
    ]);
    for (const c of calls) for (const secret of [SECRETS_KEY, ADMIN_TOKEN, "cf-token"]) expect(c.args).not.toContain(secret);
    // The configs it deployed carry the database it created.
    expect(prod(written.dispatcher!).d1_databases[0].database_id).toBe(D1_ID);
    expect(result.d1Id).toBe(D1_ID);
    expect(result.created).toEqual([
      "D1 database isoplane",
      "R2 bucket isoplane",
      "R2 lifecycle rule isoplane-run-logs",
      "dispatch namespace isoplane",
      "queue isoplane-runs",
      "queue isoplane-ledger",
      "queue isoplane-metering",
      "queue isoplane-metering-dlq",
    ]);
    expect(result.workers.dispatcher).toEqual({ urls: ["https://isoplane-dispatcher.acme.workers.dev"], routes: [], versionId: "00000000-0000-4000-8000-000000000002" });
    expect(result.workers.controlPlane.urls).toEqual(["https://isoplane-control-plane.acme.workers.dev"]);
    expect(result.workers.tail.urls).toEqual([]);
  });

  it("run again, it creates nothing: every resource is found first", async () => {
    const state = { d1: [{ uuid: D1_ID, name: "isoplane" }], buckets: ["isoplane"], namespaces: ["isoplane"], queues: ["isoplane-runs", "isoplane-ledger", "isoplane-metering", "isoplane-metering-dlq"], lifecycle: ["isoplane"] };
    const { runner, calls } = fakeWrangler(state);
    const result = await deploy(deployInput({ tail: [], outbound: [], dispatcher: [], controlPlane: [] }), runner);
    expect(result.created).toEqual([]);
    expect(calls.map((c) => c.args.slice(0, 3).join(" "))).toEqual([
      "whoami --json",
      "d1 list --json",
      "r2 bucket list",
      "r2 bucket lifecycle",
      "dispatch-namespace list",
      "queues list --page",
      "queues list --page",
      "d1 migrations apply",
      "deploy --env production",
      "deploy --env production",
      "deploy --env production",
      "deploy --env production",
    ]);
  });

  it("a pinned database id must exist and carry the configured name", async () => {
    const input = deployInput();
    input.config = { ...input.config, d1: { ...input.config.d1, id: D1_ID } };
    await expect(deploy(input, fakeWrangler({ d1: [], buckets: [], namespaces: [], queues: [] }).runner)).rejects.toThrow(
      `d1.id ${D1_ID} is not a D1 database in this account`,
    );
    await expect(deploy(input, fakeWrangler({ d1: [{ uuid: D1_ID, name: "other" }], buckets: [], namespaces: [], queues: [] }).runner)).rejects.toThrow(
      `d1.id ${D1_ID} is the database "other", not "isoplane" (d1.name)`,
    );
  });

  it("stops at the first failure, with wrangler's own message, and deploys nothing after it", async () => {
    const { runner, calls } = fakeWrangler({ d1: [], buckets: [], namespaces: [], queues: [] }, (args) => args[0] === "deploy" && args.includes("/gen/dispatcher.jsonc"));
    await expect(deploy(deployInput(), runner)).rejects.toThrow(/wrangler deploy --env production --config \/gen\/dispatcher.jsonc failed \(exit 1\):\n.*Authentication error/s);
    expect(calls.at(-1)!.args).toEqual(["deploy", "--env", "production", "--config", "/gen/dispatcher.jsonc"]);
    expect(calls.some((c) => c.args.includes("/gen/controlPlane.jsonc"))).toBe(false);
  });

  it("without credentials it stops before touching anything", async () => {
    const { runner, calls } = fakeWrangler({ d1: [], buckets: [], namespaces: [], queues: [] }, (args) => args[0] === "whoami");
    await expect(deploy(deployInput(), runner)).rejects.toThrow(/not authenticated: set CLOUDFLARE_API_TOKEN/);
    expect(calls).toHaveLength(1);
  });
});
