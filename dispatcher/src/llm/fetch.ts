import { ProviderError } from "./errors";

/** The largest answer taken from a provider: far past any real completion, well inside the dispatcher's memory. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * `fetch` for the provider SDKs, with the answer's body cut off past `max` bytes: the SDKs read a
 * completion whole, and a provider (or what answers in its place) must not make the dispatcher
 * hold an unbounded one. Streams are counted the same way, over all their events.
 */
export function cappedFetch(provider: string, max = MAX_ANSWER_BYTES): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const res = await fetch(input, init);
    // Not worth another attempt: the same request would likely answer as much again.
    const tooLarge = () => new ProviderError(`${provider}: the answer is larger than ${max} bytes`, 413);
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > max) {
      await res.body?.cancel();
      throw tooLarge();
    }
    if (!res.body) return res;
    let seen = 0;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > max) controller.error(tooLarge());
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
