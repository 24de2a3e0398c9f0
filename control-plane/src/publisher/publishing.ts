import { logEvent } from "../../../core/log";
import { ProblemError } from "../../../core/http/problem";

/**
 * Runs a publisher step. Steps run before the D1 change they belong to, so a failure here is a
 * 502 with nothing changed: the previous version stays active.
 */
export async function publishing<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    logEvent("error", "publish-failed", { error: String(err) });
    throw new ProblemError("publish-failed", "The runtime refused the change; nothing was changed.");
  }
}
