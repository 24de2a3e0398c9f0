// @ts-check
import { PLATFORM_EVENTS, RUN_ID_HEADER } from "../../core/contract.js";
import { createParser } from "eventsource-parser";
import { ApiClient, ApiError } from "../api.mjs";
import { loadSettings } from "../config.mjs";
import { CliError, UsageError } from "../errors.mjs";
import { readInput, sleep } from "../io.mjs";
import { eventSummary, isTerminal, printRun } from "../runs.mjs";

/** @typedef {import("../command.mjs").CommandContext} CommandContext */
/** @typedef {import("../command.mjs").Command} Command */
/** @typedef {import("../runs.mjs").RunView} RunView */

/** @type {Command} */
export const command = {
  name: "run",
  summary: "Run an agent: wait for it, --stream its events, or queue it with --async",
  usage: `isoplane run <agent> [--input <json> | --input @file.json] [--stream | --async [--wait]]

Runs the agent's active version. By default waits for the run to end and prints its status,
output and usage; exits with 1 when the run did not succeed.

POSITIONALS
  agent  The agent to run

OPTIONS
  --input <json>            The run's input as JSON, @file.json to read a file, @- for stdin
                            [default: null]
  --stream                  Print the run's events as they happen (model text inline); a lost
                            connection is resumed after the last event printed. Ctrl-C
                            cancels the run
  --async                   Queue the run and print its id
  --wait                    With --async: poll until the run ends, then print it
  --timeout <seconds>       With --wait: stop waiting after this long (the run goes on)
  --idempotency-key <key>   Repeats with the same key within 24 h return the first run
  --json                    Print JSON (stream: one {"event","data"} line per event)`,
  options: {
    input: { type: "string", short: "i" },
    stream: { type: "boolean" },
    async: { type: "boolean" },
    wait: { type: "boolean" },
    timeout: { type: "string" },
    "idempotency-key": { type: "string" },
    json: { type: "boolean" },
  },
  /** @param {CommandContext} ctx */
  async run({ values, positionals, out, env, stdin, signal }) {
    const [agent, ...extra] = positionals;
    if (!agent) throw new UsageError("Missing the agent to run", "run");
    if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`, "run");
    if (values.stream && (values.async || values.wait)) throw new UsageError("--stream and --async/--wait do not go together", "run");
    const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) throw new UsageError("--timeout takes a number of seconds", "run");
    const mode = values.stream ? "stream" : values.async || values.wait ? "async" : "sync";
    // The API wants an input; without --input the agent gets null.
    const input = typeof values.input === "string" ? await parseInput(values.input, stdin) : null;

    const client = new ApiClient(await loadSettings(env));
    /** @type {Record<string, string>} */
    const headers = {};
    if (typeof values["idempotency-key"] === "string") headers["idempotency-key"] = values["idempotency-key"];
    const path = `/v1/agents/${encodeURIComponent(agent)}/runs`;
    const json = Boolean(values.json);

    const accept = mode === "stream" ? "text/event-stream" : "application/json";
    const response = await client.request("dispatcher", "POST", path, { json: { input, mode }, headers: { accept, ...headers }, signal });
    // A stream request replayed for its Idempotency-Key gets the first run as JSON, not a stream.
    if (mode === "stream" && response.headers.get("content-type")?.startsWith("text/event-stream")) {
      return followStream(response, { out, client, json, signal });
    }
    /** @type {any} */
    const answer = await response.json();
    const replayed = response.headers.get("idempotent-replayed") === "true";
    if (replayed && !json) out.progress(`An earlier request with this Idempotency-Key started run ${answer.id}: showing that run.`);
    if (mode !== "async") return finish(out, answer, json);
    if (!values.wait) {
      if (json) {
        out.log(JSON.stringify(answer, null, 2));
      } else {
        out.success(`Queued run ${answer.id} for ${agent}`);
        out.log(out.c.dim(`  Follow it: isoplane logs ${answer.id} --follow`));
      }
      return 0;
    }
    out.progress(`Queued run ${answer.id}; waiting for it to end…`);
    const run = await waitForRun(client, answer.id, { signal, timeoutMs: timeoutSeconds && timeoutSeconds * 1000, out });
    return finish(out, run, json);
  },
};

/**
 * The finished run, as JSON or for people; 0 when it succeeded, else 1.
 * @param {import("../output.mjs").Output} out @param {RunView} run @param {boolean} json
 */
function finish(out, run, json) {
  if (!json) return printRun(out, run);
  out.log(JSON.stringify(run, null, 2));
  return run.status === "succeeded" ? 0 : 1;
}

/**
 * --input: JSON, @file, or "@-" for stdin.
 * @param {string} value @param {NodeJS.ReadableStream} stdin
 */
async function parseInput(value, stdin) {
  const fromFile = value.startsWith("@");
  const text = fromFile ? (await readInput(value.slice(1) || "-", stdin)).toString("utf8") : value;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`--input ${fromFile ? `(${value.slice(1)}) ` : ""}is not valid JSON: ${/** @type {Error} */ (err).message}`, [
      `To pass a string, quote it as JSON: --input '"hello"'`,
      "To read a file: --input @input.json",
    ]);
  }
}

/**
 * Polls the run until it ends (250 ms, growing to 2 s between polls), then reads its output.
 * @param {ApiClient} client @param {string} id
 * @param {{ signal?: AbortSignal, timeoutMs?: number, out: import("../output.mjs").Output }} options
 * @returns {Promise<RunView>}
 */
export async function waitForRun(client, id, { signal, timeoutMs, out }) {
  const deadline = timeoutMs ? Date.now() + timeoutMs : Infinity;
  const path = `/v1/runs/${encodeURIComponent(id)}`;
  let delay = 250;
  let last = "queued";
  try {
    for (;;) {
      /** @type {RunView} */
      const run = await client.json("dispatcher", "GET", path, { signal });
      if (isTerminal(run.status)) {
        if (run.status === "succeeded") run.output = await client.json("dispatcher", "GET", `${path}/result`, { signal });
        return run;
      }
      if (run.status !== last) out.progress(`Run ${id} is ${run.status}…`);
      last = run.status;
      if (Date.now() + delay > deadline) {
        throw new CliError(`Run ${id} is still ${run.status} after ${Math.round((timeoutMs ?? 0) / 1000)} s; it goes on without us`, [
          `Follow it: isoplane logs ${id} --follow`,
        ]);
      }
      await sleep(delay, signal);
      delay = Math.min(2000, Math.round(delay * 1.5));
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
    throw new CliError(`Stopped waiting for run ${id}; it goes on`, [`Follow it: isoplane logs ${id} --follow`], 130);
  }
}

/** Waits before each attempt to resume a lost stream: 0.5 s, 1 s, 2 s, 4 s, then 8 s; 8 attempts in all. */
const RESUME_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000];

/**
 * Prints a text/event-stream of run events as they arrive: model text inline, other events as
 * one line each, then the finished run. A connection lost before the last event (a network error,
 * or the stream ending early) is resumed from `GET /v1/runs/{id}/stream` with `Last-Event-ID`:
 * the platform replays what came after the last event printed, so none is lost or shown twice.
 * @param {Response} response
 * @param {{ out: import("../output.mjs").Output, client: ApiClient, json: boolean, signal?: AbortSignal }} options
 */
async function followStream(response, { out, client, json, signal }) {
  let runId = response.headers.get(RUN_ID_HEADER) ?? undefined;
  /** @type {RunView | undefined} */
  let final;
  /** The id (seq in the run's log) of the last event handled: where a resumed stream starts. */
  let lastId = 0;
  /** Events handled on the current connection. */
  let fresh = 0;
  let midLine = false; // model text was written without its newline yet
  const endText = () => {
    if (midLine) out.write("\n");
    midLine = false;
  };
  const parser = createParser({
    onEvent(message) {
      if (final) return;
      if (message.id !== undefined && /^\d+$/.test(message.id)) {
        const seq = Number(message.id);
        // Already handled (a resumed stream starts after lastId; this only guards against a repeat).
        if (seq <= lastId) return;
        lastId = seq;
      }
      fresh++;
      const type = message.event ?? "message";
      /** @type {any} */
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = message.data;
      }
      if (type === PLATFORM_EVENTS.started && data?.id) runId = data.id;
      if (json) {
        out.log(JSON.stringify({ event: type, id: message.id === undefined ? undefined : Number(message.id), data }));
        if (type === "run.completed" || type === "run.failed") final = data;
        return;
      }
      if (type === "llm.delta") {
        const text = typeof data?.content === "string" ? data.content : "";
        if (text) {
          out.write(text);
          midLine = !text.endsWith("\n");
        }
        return;
      }
      endText();
      if (type === "run.completed" || type === "run.failed") {
        final = data;
        return;
      }
      out.log(eventSummary(out, type, data));
    },
    onError(err) {
      endText();
      out.warn(`Could not read part of the event stream: ${err.message}`);
    },
  });

  /** @type {Response | null} */
  let current = response;
  let failures = 0;
  /** What ended the last connection or attempt (null: the stream just ended). @type {unknown} */
  let lost = null;
  try {
    for (;;) {
      if (current) {
        fresh = 0;
        // A resumed stream starts with whole events: what was left of a cut one is dropped.
        parser.reset();
        lost = await readInto(current, parser);
        if (final) break;
        if (fresh > 0) failures = 0;
        if (!runId) {
          endText();
          if (lost) throw new CliError(`The event stream broke off: ${errorText(lost)}`);
          throw new CliError("The event stream ended before the run did");
        }
        if (!lost && fresh === 0) {
          // It ended at once with nothing new: the record says whether the run is over.
          const record = await client.json("dispatcher", "GET", `/v1/runs/${encodeURIComponent(runId)}`, { signal });
          if (isTerminal(record.status)) {
            if (record.status === "succeeded") record.output = await client.json("dispatcher", "GET", `/v1/runs/${encodeURIComponent(runId)}/result`, { signal });
            final = record;
            break;
          }
        }
        // Once per lost connection (on stderr, so the model's text on stdout is not cut).
        out.progress(`connection lost, resuming after event ${lastId}…`);
      }
      const delay = RESUME_DELAYS_MS[failures++];
      if (delay === undefined) {
        endText();
        throw new CliError(`Lost the event stream of run ${runId} and could not resume it after ${RESUME_DELAYS_MS.length} attempts`, [
          errorText(lost),
          `The run may go on: isoplane logs ${runId} --follow`,
        ]);
      }
      await sleep(delay, signal);
      const id = /** @type {string} */ (runId);
      current = await resume(client, id, lastId, signal).catch((err) => {
        if (signal?.aborted || !retryable(err)) throw err;
        lost = err;
        return null;
      });
    }
  } catch (err) {
    endText();
    if (signal?.aborted) throw await interrupted(client, runId);
    throw err;
  }
  endText();
  if (!final) throw new CliError("The event stream ended before the run did");
  if (json) return final.status === "succeeded" ? 0 : 1;
  return finish(out, final, false);
}

/**
 * Feeds the response's body to the parser until it ends; the error that ended it, if any.
 * @param {Response} response @param {import("eventsource-parser").EventSourceParser} parser
 * @returns {Promise<unknown>}
 */
async function readInto(response, parser) {
  if (!response.body) return new Error("the dispatcher answered with no body");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return null;
      parser.feed(value);
    }
  } catch (err) {
    return err;
  } finally {
    reader.releaseLock();
  }
}

/**
 * The run's events after `after`, from its own stream.
 * @param {ApiClient} client @param {string} runId @param {number} after @param {AbortSignal} [signal]
 */
async function resume(client, runId, after, signal) {
  const path = `/v1/runs/${encodeURIComponent(runId)}/stream`;
  const response = await client.request("dispatcher", "GET", path, { headers: { accept: "text/event-stream", "last-event-id": String(after) }, signal });
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    await response.body?.cancel();
    throw new CliError(`GET ${path} did not answer with an event stream`);
  }
  return response;
}

/** Worth another attempt: the dispatcher unreachable, busy or failing — not a refusal. @param {unknown} err */
function retryable(err) {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return err instanceof CliError && /^Could not reach/.test(err.message);
}

/** @param {unknown} err */
function errorText(err) {
  if (!err) return "the stream ended early";
  const cause = /** @type {{ cause?: { message?: string, code?: string } }} */ (err).cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause?.message || cause?.code ? `${message} (${cause.message || cause.code})` : message;
}

/**
 * Ctrl-C: the run no longer ends with its connection, so it is cancelled here.
 * @param {ApiClient} client @param {string | undefined} runId
 */
async function interrupted(client, runId) {
  if (!runId) return new CliError("Interrupted", [], 130);
  try {
    await client.json("dispatcher", "POST", `/v1/runs/${encodeURIComponent(runId)}/cancel`, { signal: AbortSignal.timeout(5000) });
    return new CliError(`Interrupted: run ${runId} is cancelled`, [], 130);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return new CliError(`Interrupted: run ${runId} had already ended`, [`Its events: isoplane logs ${runId}`], 130);
    return new CliError(`Interrupted; could not cancel run ${runId}: ${errorText(err)}`, [`It may go on: isoplane logs ${runId} --follow`], 130);
  }
}
