import type { AllListed, Bound, Unlisted } from "../../core/env";
import type { DispatcherEnv } from "../src/env";

/**
 * The outbound Worker's env: its bindings (worker-configuration.d.ts, from its wrangler.toml) and
 * the parameters the dispatcher passed to `env.DISPATCHER.get()` for the run.
 */
export interface OutboundEnv extends Omit<OutboundBindings, "RUN_RECORDS"> {
  RUN_RECORDS: Bound<OutboundBindings, "RUN_RECORDS", DispatcherEnv["RUN_RECORDS"]>;
  tenantId?: string;
  runId?: string;
}

/** Every name of OutboundEnv its config does not declare: the outbound parameters (the tests hand it only these and its bindings). */
export const OUTBOUND_SETTINGS = ["tenantId", "runId"] as const;
export type OutboundSettingsListed = AllListed<Unlisted<OutboundEnv, OutboundBindings, typeof OUTBOUND_SETTINGS>>;
