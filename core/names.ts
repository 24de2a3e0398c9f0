import { z } from "@hono/zod-openapi";
import { ProblemError } from "./http/problem";

import { AGENT_NAME_PATTERN } from "./contract.js";

export { AGENT_NAME_PATTERN };
export const AgentName = z.string().regex(AGENT_NAME_PATTERN).openapi({ example: "summarize" });

/** Path parameters are checked by hand so the problem is the precise `invalid-name`, not a generic 400. */
export function agentNameParam(value: string | undefined): string {
  if (!value || !AGENT_NAME_PATTERN.test(value)) {
    throw new ProblemError("invalid-name", `Agent names match ${AGENT_NAME_PATTERN.source}.`);
  }
  return value;
}

const ID_PATTERN = /^[a-z]{3}_[0-9a-z]{20}$/;

/** Ids of the wrong shape cannot exist, so they get the same 404 as a missing one. */
export function idParam(value: string | undefined, prefix: string, what: string): string {
  if (!value || !ID_PATTERN.test(value) || !value.startsWith(`${prefix}_`)) {
    throw new ProblemError("not-found", `No ${what} with that id.`);
  }
  return value;
}
