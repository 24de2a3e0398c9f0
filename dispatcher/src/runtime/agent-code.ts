import type { DispatcherEnv } from "../env";
import { loadBundle } from "../../../core/scripts/bundle";
import { HARNESS_MODULE, runtimeFlags, runtimeModules } from "../../../core/harness/modules";
import { agentSecretValues } from "../../../core/secrets";
import type { SandboxCode } from "./sandbox-protocol";
import type { AgentTarget } from "./types";

/** The isolate cache id of an agent version: a new upload or secret change can never be served stale. */
export function isolateId(target: AgentTarget): string {
  return `${target.tenantId}/${target.agent}/${target.version}/${target.sha256}/${target.secretsRev}`;
}

/** What an isolate of this agent version is started from: the harness, the agent's modules, its secrets. */
export async function agentCode(env: Pick<DispatcherEnv, "BUCKET" | "DB" | "SECRETS_KEY">, target: AgentTarget): Promise<SandboxCode> {
  const [bundle, secrets] = await Promise.all([
    loadBundle(env.BUCKET, target.bundleKey),
    agentSecretValues(env.DB, env.SECRETS_KEY, target.tenantId, target.agent),
  ]);
  return {
    compatibilityDate: bundle.compatibilityDate,
    compatibilityFlags: runtimeFlags(bundle),
    mainModule: HARNESS_MODULE,
    modules: runtimeModules(bundle),
    secrets,
  };
}
