const encoder = new TextEncoder();

/** One server-sent event; `id` is the event's seq in the run's log, so a client can resume after it. */
export function sseFrame(event: string, data: unknown, id?: number): Uint8Array {
  return encoder.encode(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** A comment line: keeps idle connections open through proxies without being an event. */
export const SSE_KEEPALIVE = encoder.encode(": keep-alive\n\n");

export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" } as const;

/** Tells EventSource clients to reconnect after a second (their default is three). */
export const SSE_RETRY = encoder.encode("retry: 1000\n\n");

/** A run's stream as the client gets it, when the run should not outlive the connection: the client going away before the end cancels it. */
export function cancelOnDisconnect(source: ReadableStream<Uint8Array>, cancel: () => Promise<unknown>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await cancel().catch(() => {});
      await reader.cancel().catch(() => {});
    },
  });
}
