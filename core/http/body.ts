import { ProblemError } from "./problem";

/**
 * Reads a request body into memory, refusing with 413 as soon as it exceeds `limit` bytes —
 * before it is read whole, whether or not the client sent a Content-Length.
 */
export async function readBodyLimited(request: Request, limit: number, what = "body"): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw tooLarge(what, limit);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
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

/** Parses a JSON body within a size limit; malformed JSON is a 400 `malformed-json` problem. */
export async function readJsonLimited(request: Request, limit: number): Promise<unknown> {
  const bytes = await readBodyLimited(request, limit);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProblemError("malformed-json", `The body is not valid JSON: ${(err as Error).message}`);
  }
}
