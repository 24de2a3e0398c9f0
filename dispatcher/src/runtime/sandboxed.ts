import { isolateId } from "./agent-code";
import { SANDBOX_TARGET_HEADER, SANDBOX_TOKEN_HEADER, type SandboxTarget } from "./sandbox-protocol";
import type { AgentTarget, Invocation, TenantRuntime } from "./types";

/** What the pool answers for a tenant: where its sandbox listens, or why it stopped last. */
interface PoolAnswer {
  url?: string;
  exit?: string;
}

/**
 * `npm start`'s runtime: tenant code runs in sandbox processes (one workerd per tenant, started
 * and watched by scripts/sandboxes.mjs), never in the dispatcher's own process. A tenant whose
 * agent spins (`for(;;)`) stalls only its own sandbox, which the pool stops once it has burnt the
 * run's CPU budget, as production ends an invocation at its CPU limit; and a sandbox reaches the
 * network only through public addresses, so the egress policy holds on the address a name
 * resolves to, not only on the name.
 */
export class SandboxedRuntime implements TenantRuntime {
  constructor(
    private readonly pool: Fetcher,
    private readonly token: string,
  ) {}

  async fetch(target: AgentTarget, { request, limits }: Invocation): Promise<Response> {
    const sandbox = await this.ask("acquire", target.tenantId, limits.cpuMs);
    if (!sandbox.url) throw new Error(`the tenant's sandbox could not start: ${sandbox.exit ?? "no reason given"}`);
    const wire: SandboxTarget = {
      id: isolateId(target),
      tenantId: target.tenantId,
      agent: target.agent,
      version: target.version,
      sha256: target.sha256,
      bundleKey: target.bundleKey,
      secretsRev: target.secretsRev,
      limits,
    };
    const headers = new Headers(request.headers);
    headers.set(SANDBOX_TOKEN_HEADER, this.token);
    headers.set(SANDBOX_TARGET_HEADER, JSON.stringify(wire));
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await fetch(new URL(url.pathname + url.search, sandbox.url), {
        method: request.method,
        headers,
        body: request.body,
        signal: request.signal,
      });
    } catch (err) {
      throw await this.why(target.tenantId, err);
    }
    if (!response.body) return response;
    // The answer streams for the whole run: if the sandbox dies midway, the run's error says why.
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          controller.error(await this.why(target.tenantId, err));
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, response);
  }

  /** The connection to the sandbox broke: why, if the pool stopped it (CPU budget, memory, a crash). */
  private async why(tenantId: string, err: unknown): Promise<Error> {
    let after = await this.ask("exit", tenantId).catch(() => ({}) as PoolAnswer);
    // A process killed from outside (the kernel's OOM killer) is seen to exit a moment after its connections drop.
    if (!after.exit) {
      await new Promise((r) => setTimeout(r, 300));
      after = await this.ask("exit", tenantId).catch(() => ({}) as PoolAnswer);
    }
    return new Error(after.exit ? `the agent's sandbox was stopped: ${after.exit}` : `the agent's sandbox did not answer: ${(err as Error).message}`);
  }

  private async ask(what: "acquire" | "exit", tenantId: string, cpuMs?: number): Promise<PoolAnswer> {
    const res = await this.pool.fetch(`http://sandboxes/${what}`, {
      method: "POST",
      headers: { "content-type": "application/json", [SANDBOX_TOKEN_HEADER]: this.token },
      body: JSON.stringify({ tenantId, cpuMs: cpuMs ?? null }),
    });
    if (!res.ok) throw new Error(`the sandbox pool answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return (await res.json()) as PoolAnswer;
  }
}
