/**
 * The pure parts of the harness (core/harness/main.ts): reading an agent's answer within the
 * output limit, one-line errors, and the event limiter. Bundled into the harness, tested here.
 */
import { MAX_EVENT_BYTES, MAX_EVENT_BYTES_PER_RUN, MAX_EVENTS_PER_RUN, MAX_JSON_DEPTH, MAX_OUTPUT_BYTES, EVENT_TYPE } from "../contract.js";
import { jsonNestsDeeper, valueNestsDeeper } from "../json-depth";

/** The body's text, or null as soon as it passes `limit` bytes: an oversized output is never buffered whole. */
export async function boundedText(body: ReadableStream<Uint8Array> | null, limit = MAX_OUTPUT_BYTES): Promise<string | null> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** An error as one line of at most 500 characters, never a stack (the platform's own rule). */
import { errorLine } from "../log";

export const oneLineError = (err: unknown): string => errorLine(err);

const tooDeep = (what: string) => new RangeError(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`);

/**
 * Checks and frames the agent's `EMIT(type, data)` calls for one run: the line to send, `null`
 * once the run's log is past its limits (the platform keeps nothing more: one frame over them
 * reaches it, so it marks the log truncated, and the rest are dropped here), or the error the
 * agent's call rejects with.
 */
export class EventLimiter {
  private emitted = 0;
  private bytes = 0;

  frame(type: unknown, data: unknown): string | null {
    if (typeof type !== "string" || !EVENT_TYPE.test(type)) throw new TypeError("EMIT: invalid event type");
    if (valueNestsDeeper(data, MAX_JSON_DEPTH)) throw tooDeep("EMIT: data");
    let line: string;
    try {
      line = JSON.stringify({ type: "event", event: { type, data: data ?? null } });
    } catch (err) {
      throw new TypeError(`EMIT: data is not serialisable as JSON (${oneLineError(err)})`);
    }
    if (line.length > MAX_EVENT_BYTES) throw new RangeError(`EMIT: event larger than ${MAX_EVENT_BYTES} bytes`);
    // The event frame wraps the data in two levels (toJSON can make the text deeper than the value).
    if (jsonNestsDeeper(line, MAX_JSON_DEPTH + 2)) throw tooDeep("EMIT: data");
    if (this.emitted > MAX_EVENTS_PER_RUN || this.bytes > MAX_EVENT_BYTES_PER_RUN) return null;
    this.emitted++;
    this.bytes += line.length;
    return line;
  }
}

/** Model requests are checked before the RPC hop: a deep one would overflow its serialiser (the platform checks again). */
export function checkModelRequest(what: "LLM.chat" | "LLM.stream", request: unknown): void {
  if (valueNestsDeeper(request, MAX_JSON_DEPTH)) throw new TypeError(`${what}: the request nests deeper than ${MAX_JSON_DEPTH} levels`);
}
