// @ts-check
import { ApiClient } from "../api.mjs";
import { loadSettings } from "../config.mjs";
import { UsageError } from "../errors.mjs";
import { sleep } from "../io.mjs";
import { eventLogLine, isTerminal } from "../runs.mjs";

/** @typedef {import("../command.mjs").CommandContext} CommandContext */
/** @typedef {import("../command.mjs").Command} Command */

/** @type {Command} */
export const command = {
  name: "logs",
  summary: "Print a run's event log",
  usage: `isoplane logs <runId> [--follow] [--json]

Prints the run's stored events, one a line: sequence number, time, type, data.

POSITIONALS
  runId  The run (run_…)

OPTIONS
  -f, --follow  Keep printing new events until the run ends
  --json        One JSON object a line`,
  options: {
    follow: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  },
  /** @param {CommandContext} ctx */
  async run({ values, positionals, out, env, signal }) {
    const [runId, ...extra] = positionals;
    if (!runId) throw new UsageError("Missing the run id", "logs");
    if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`, "logs");
    const client = new ApiClient(await loadSettings(env));
    const id = encodeURIComponent(runId);
    let after = 0;
    let count = 0;
    let lastPass = !values.follow;
    /** @type {string | undefined} */
    let ended;
    try {
      for (;;) {
        /** @type {{ events: { seq: number, at: string, type: string, data: unknown }[], next: number | null }} */
        const page = await client.json("dispatcher", "GET", `/v1/runs/${id}/events`, { query: { after, limit: 500 }, signal });
        for (const event of page.events) {
          out.log(values.json ? JSON.stringify(event) : eventLogLine(out, event));
          after = Math.max(after, event.seq);
          count++;
        }
        if (page.next !== null && page.next !== undefined) {
          after = page.next;
          continue;
        }
        if (lastPass) break;
        // --follow: once the run has ended, one more read picks up its last events.
        const run = await client.json("dispatcher", "GET", `/v1/runs/${id}`, { signal });
        if (isTerminal(run.status)) {
          lastPass = true;
          ended = run.status;
        } else {
          await sleep(500, signal);
        }
      }
    } catch (err) {
      // Ctrl-C is how one stops following, as with `tail -f`: no error.
      if (signal.aborted) return 130;
      throw err;
    }
    if (count === 0) out.progress(`Run ${runId} has no events.`);
    if (ended) out.progress(`Run ${runId} ${ended}.`);
    return 0;
  },
};
