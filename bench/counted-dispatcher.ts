// Bench only: the dispatcher exactly as dispatcher/src/index.ts builds it, with every D1 call
// counted inside the runtime (bench/d1-count.ts). It is bundled by wrangler with the dispatcher's
// own wrangler.toml (bindings, Durable Objects, queues), only the entry differs. Each handler and
// class gets its `env.DB` wrapped under its own site name:
//   worker          the fetch handler (auth, run index reads, a cold isolate's secrets)
//   TenantObject    admission, active versions (the object's caches)
//   RunObject       the run's record
//   Tenant*         the bindings tenant isolates call back into
//   ledger consumer the LEDGER queue's batches (run index and usage rows)
//   runs consumer   the RUNS queue (async runs, webhooks)
//   scheduled       the cron trigger
// GET /__bench/d1 returns the counts, POST /__bench/d1/reset zeroes them; nothing else is added.
import dispatcher, {
  RunObject as DispatcherRunObject,
  TenantEgress as DispatcherTenantEgress,
  TenantLlm as DispatcherTenantLlm,
  TenantObject as DispatcherTenantObject,
  TenantStorage as DispatcherTenantStorage,
} from "../dispatcher/src/index";
import type { DispatcherEnv, LedgerMessage, RunMessage } from "../dispatcher/src/env";
import type { TenantProps } from "../dispatcher/src/bindings/storage";
import { countedEnv, reset, snapshot, type IsolateCounts } from "./d1-count";

type Op = "read" | "reset";
const counts = (op: Op): IsolateCounts => (op === "reset" ? reset() : snapshot());

export class TenantObject extends DispatcherTenantObject {
  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, countedEnv(env, "TenantObject"));
  }

  /** The counts of the isolate this object runs in. */
  async benchD1(op: Op): Promise<IsolateCounts> {
    return counts(op);
  }
}

export class RunObject extends DispatcherRunObject {
  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, countedEnv(env, "RunObject"));
  }

  async benchD1(op: Op): Promise<IsolateCounts> {
    return counts(op);
  }
}

export class TenantStorage extends DispatcherTenantStorage {
  constructor(ctx: ExecutionContext<TenantProps>, env: DispatcherEnv) {
    super(ctx, countedEnv(env, "TenantStorage"));
  }
}

export class TenantLlm extends DispatcherTenantLlm {
  constructor(ctx: ExecutionContext<TenantProps>, env: DispatcherEnv) {
    super(ctx, countedEnv(env, "TenantLlm"));
  }
}

export class TenantEgress extends DispatcherTenantEgress {
  constructor(ctx: ExecutionContext<TenantProps>, env: DispatcherEnv) {
    super(ctx, countedEnv(env, "TenantEgress"));
  }
}

/** Objects that exist only to be asked for their isolate's counts. */
const PROBE = "__bench-d1";

/**
 * The counts of every isolate this Worker's code runs in that can be reached from here: this
 * one, a TenantObject's and a RunObject's (the same isolate under workerd today; if they ever
 * differ, each is read once and summed by the caller).
 */
async function allCounts(env: DispatcherEnv, op: Op): Promise<IsolateCounts[]> {
  const found = new Map<string, IsolateCounts>();
  const own = counts(op);
  found.set(own.isolate, own);
  type Probe = { benchD1(op: Op): Promise<IsolateCounts> };
  const remote = await Promise.all([
    (env.TENANTS.get(env.TENANTS.idFromName(PROBE)) as unknown as Probe).benchD1(op),
    (env.RUN_RECORDS.get(env.RUN_RECORDS.idFromName(PROBE)) as unknown as Probe).benchD1(op),
  ]);
  for (const c of remote) if (!found.has(c.isolate)) found.set(c.isolate, c);
  return [...found.values()];
}

const ledgerQueue = (name: string) => name.endsWith("-ledger") || name === "isoplane-ledger";

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/d1" && request.method === "GET") return Response.json({ isolates: await allCounts(env, "read") });
    if (pathname === "/__bench/d1/reset" && request.method === "POST") return Response.json({ isolates: await allCounts(env, "reset") });
    return dispatcher.fetch(request, countedEnv(env, "worker"), ctx);
  },
  queue: (batch, env, ctx) => dispatcher.queue(batch, countedEnv(env, ledgerQueue(batch.queue) ? "ledger consumer" : "runs consumer"), ctx),
  scheduled: (controller, env, ctx) => dispatcher.scheduled(controller, countedEnv(env, "scheduled"), ctx),
} satisfies ExportedHandler<DispatcherEnv, RunMessage | LedgerMessage>;
