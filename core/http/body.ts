import { ProblemError } from "./problem";

/**
 * How long a request body may go without a byte arriving before it is refused (ms). A client
 * that declares a Content-Length and never sends all of it ends with a 400, not a hang.
 */
export const BODY_READ_TIMEOUT_MS = 10_000;

/**
 * The deepest nesting of arrays and objects the platform accepts in any JSON it is given: request
 * bodies, and what tenant code hands it (events, outputs, model requests). Deeper values would
 * overflow the stack of the recursive code that handles JSON (serialisers, validators, RPC).
 */
export const MAX_JSON_DEPTH = 64;

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
 * Whether JSON text nests arrays and objects deeper than `max` levels, found by scanning its
 * characters — no recursion, no parse — so any depth is answered in linear time. Brackets inside
 * strings (escapes included) do not count. The text need not be valid JSON: a parse comes after.
 */
export function jsonNestsDeeper(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Whether a JavaScript value (one that arrived over RPC, say) nests arrays and objects deeper
 * than `max` levels — a value that contains itself always does — found without recursion. Shared
 * sub-objects are measured once, so a value made exponentially wide by sharing costs time linear
 * in its distinct objects.
 */
export function valueNestsDeeper(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  // Height of each object, once its children are measured; an object on the stack is in progress.
  const height = new Map<object, number>();
  const onStack = new Set<object>();
  const stack: { node: object; children: unknown[]; next: number; max: number }[] = [];
  const push = (node: object): boolean => {
    if (stack.length >= max) return false;
    onStack.add(node);
    stack.push({ node, children: Array.isArray(node) ? node : Object.values(node), next: 0, max: 0 });
    return true;
  };
  if (!push(value)) return true;
  while (stack.length) {
    const top = stack.at(-1)!;
    if (top.next < top.children.length) {
      const child = top.children[top.next++];
      if (child === null || typeof child !== "object") continue;
      if (onStack.has(child)) return true; // it contains itself: no finite depth
      const known = height.get(child);
      if (known !== undefined) {
        top.max = Math.max(top.max, known);
        if (stack.length + known > max) return true;
        continue;
      }
      if (!push(child)) return true;
      continue;
    }
    stack.pop();
    onStack.delete(top.node);
    const h = top.max + 1;
    height.set(top.node, h);
    const parent = stack.at(-1);
    if (parent) parent.max = Math.max(parent.max, h);
  }
  return false;
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
