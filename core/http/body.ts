import { ProblemError } from "./problem";

/**
 * How long a request body may go without a byte arriving before it is refused (ms). A client
 * that declares a Content-Length and never sends all of it ends with a 400, not a hang.
 */
export const BODY_READ_TIMEOUT_MS = 10_000;

// The depth rule is shared with the harness inside tenant isolates (core/json-depth.ts).
export { jsonNestsDeeper, MAX_JSON_DEPTH, valueNestsDeeper } from "../json-depth";
import { jsonNestsDeeper, MAX_JSON_DEPTH } from "../json-depth";

/** Per-request read timeouts set by the apps' middleware (from `BODY_READ_TIMEOUT_MS`); the default otherwise. */
const readTimeouts = new WeakMap<Request, number>();

/** Sets the read timeout `readBodyLimited` applies to this request's body. */
export function setBodyReadTimeout(request: Request, ms: number): void {
  readTimeouts.set(request, ms);
}

/**
 * Reads a request body into memory, refusing with 413 as soon as it exceeds `limit` bytes —
 * before it is read whole, whether or not the client sent a Content-Length — and with 400 when
 * no byte arrives for the read timeout (a declared length that never arrives).
 */
export async function readBodyLimited(request: Request, limit: number, what = "body"): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw tooLarge(what, limit);
  }
  if (!request.body) return new Uint8Array(0);
  const timeoutMs = readTimeouts.get(request) ?? BODY_READ_TIMEOUT_MS;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((resolve) => (timer = setTimeout(() => resolve("stalled"), timeoutMs)));
    const next = await Promise.race([reader.read(), stalled]).finally(() => clearTimeout(timer));
    if (next === "stalled") {
      // Not awaited: cancelling a stream whose source has gone quiet may itself never settle.
      reader.cancel().catch(() => {});
      const expected = declared !== null ? ` of the ${declared} declared` : "";
      throw new ProblemError("invalid-request", `The ${what} stopped arriving: no bytes for ${timeoutMs} ms after ${size}${expected} bytes.`, {
        extra: { received: size, timeoutMs },
      });
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(what, limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function tooLarge(what: string, limit: number): ProblemError {
  return new ProblemError("payload-too-large", `The ${what} is larger than ${limit} bytes.`, {
    extra: { limit },
  });
}


/**
 * Parses a JSON body within a size limit; malformed JSON is a 400 `malformed-json` problem, JSON
 * nested deeper than `MAX_JSON_DEPTH` a 400 `invalid-request` (checked before it is parsed).
 */
export async function readJsonLimited(request: Request, limit: number): Promise<unknown> {
  const bytes = await readBodyLimited(request, limit);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return undefined;
  if (jsonNestsDeeper(text)) {
    throw new ProblemError("invalid-request", `The body nests deeper than ${MAX_JSON_DEPTH} levels.`, { extra: { maxDepth: MAX_JSON_DEPTH } });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProblemError("malformed-json", `The body is not valid JSON: ${(err as Error).message}`);
  }
}
