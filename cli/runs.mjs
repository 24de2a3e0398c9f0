// @ts-check
// How runs and their events read on the terminal; shared by `run` and `logs`.
import { isTerminal, PLATFORM_EVENTS } from "../core/contract.js";
import { formatBytes, formatDuration, oneLine, plural } from "./output.mjs";

/** @typedef {import("./output.mjs").Output} Output */
/** @typedef {import("../core/contract.js").RunView} RunView */

export { isTerminal };

/** "research v2, 41 ms" @param {RunView} run */
function runLabel(run) {
  const parts = [];
  if (run.agent) parts.push(run.version !== undefined ? `${run.agent} v${run.version}` : run.agent);
  const wall = run.usage?.wallMs;
  if (typeof wall === "number") parts.push(formatDuration(wall));
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** One line about what the run used. @param {Record<string, number | null>} usage */
export function usageLine(usage) {
  const n = (/** @type {string} */ field) => (typeof usage[field] === "number" ? /** @type {number} */ (usage[field]) : 0);
  const parts = [
    `${plural(n("llmCalls"), "LLM call")} (${n("inputTokens")} in / ${n("outputTokens")} out tokens)`,
    `${plural(n("storageReads"), "read")} (${formatBytes(n("bytesRead"))})`,
    `${plural(n("storageWrites"), "write")} (${formatBytes(n("bytesWritten"))})`,
  ];
  if (n("subrequests")) parts.push(plural(n("subrequests"), "subrequest"));
  parts.push(typeof usage.cpuMs === "number" ? `CPU ${formatDuration(usage.cpuMs)}` : "CPU not measured");
  return `Usage: ${parts.join(" · ")}`;
}

/**
 * A finished (or queued) run: status line, output as pretty JSON, usage. Returns the exit code:
 * 0 when it succeeded, 1 otherwise.
 * @param {Output} out @param {RunView} run
 */
export function printRun(out, run) {
  const label = `Run ${run.id} ${run.status}${runLabel(run)}`;
  if (run.status === "succeeded") {
    out.success(label);
    out.log(JSON.stringify(run.output ?? null, null, 2));
  } else {
    out.log(`${out.c.red("✘")} ${label}`);
  }
  if (run.usage) out.log(out.c.dim(usageLine(run.usage)));
  if (run.status === "succeeded") return 0;
  out.error(`Run ${run.id} ${run.status.replace("_", " ")}${run.error ? `: ${run.error}` : ""}`, [`Its events: isoplane logs ${run.id}`]);
  return 1;
}

/**
 * One event as a line for the live stream: "→ tool.call calculator {…}". `llm.delta` is not
 * shown here: its text is written inline.
 * @param {Output} out @param {string} type @param {any} data
 */
export function eventSummary(out, type, data) {
  const c = out.c;
  switch (type) {
    case PLATFORM_EVENTS.started:
      return `${c.cyan("→")} ${c.bold(type)} ${data?.id ?? ""}${data?.agent ? ` ${data.agent} v${data.version}` : ""}`;
    case "tool.call":
      return `${c.cyan("→")} ${c.bold(type)} ${data?.name ?? "?"} ${c.dim(oneLine(data?.arguments ?? ""))}`;
    case "tool.result":
      return data?.error !== undefined
        ? `${c.yellow("←")} ${c.bold(type)} ${data?.name ?? "?"} ${c.yellow("error:")} ${oneLine(data.error)}`
        : `${c.green("←")} ${c.bold(type)} ${data?.name ?? "?"} ${c.dim(oneLine(data?.result ?? ""))}`;
    case "agent.event":
      return `${c.blue("•")} ${c.bold(type)} ${c.dim(oneLine(data))}`;
    default:
      return `${c.gray("·")} ${c.bold(type)} ${c.dim(oneLine(data))}`;
  }
}

/**
 * One stored event for `logs`: seq, time, type, data.
 * @param {Output} out @param {{ seq: number, at: string, type: string, data: unknown }} event
 */
export function eventLogLine(out, event) {
  const c = out.c;
  return `${String(event.seq).padStart(4)}  ${c.dim(event.at)}  ${c.bold(event.type.padEnd(13))}  ${oneLine(event.data, 200)}`;
}
