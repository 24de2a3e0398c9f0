// Resumable run streams: `GET /v1/runs/{id}/stream` replays a run's events after `Last-Event-ID`
// with the same ids, then follows it live, so a standard EventSource client (the `eventsource`
// package, over the dispatcher's real fetch handler) resumes a cut stream on its own; and a
// stream's connection no longer decides whether its run goes on.
import { exports } from "cloudflare:workers";
import { EventSource, type FetchLike } from "eventsource";
import { describe, expect, it } from "vitest";
import { bearer, dp, expectProblem, json, newTenant, upload, type TestTenant, waitFor } from "./helpers";

/** Emits `{"n": 1}` … `{"n": count}` as `tick` events, `delayMs` apart, then returns how many. */
const COUNTER = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    for (let n = 1; n <= input.count; n++) {
      await new Promise((r) => setTimeout(r, input.delayMs));
      await env.EMIT("tick", { n });
    }
    return Response.json({ counted: input.count });
  },
};`;

const TICKS = 15;
/** run.started is event 1, {"n": k} event k + 1, run.completed the last. */
const LAST = TICKS + 2;
const DISPATCHER = "http://dispatcher.test";

const record = async (t: TestTenant, id: string) => (await dp(`/v1/runs/${id}`, { headers: bearer(t.key) })).json<{ status: string; error?: string }>();

/** Polls the run until it has ended; its record. */
const ended = (t: TestTenant, id: string) =>
  waitFor(async () => {
    const r = await record(t, id);
    return r.status !== "running" && r.status !== "queued" ? r : null;
  });

/** Starts a stream-mode run of COUNTER; the response (its body unread) and the run's id. */
async function startStream(t: TestTenant, input: { count: number; delayMs: number }, extra: Record<string, unknown> = {}): Promise<{ res: Response; id: string }> {
  const res = await dp("/v1/agents/counter/runs", json({ input, mode: "stream", ...extra }, bearer(t.key)));
  expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const id = res.headers.get("x-isoplane-run-id");
  expect(id).toMatch(/^run_/);
  return { res, id: id! };
}

/** Reads a body to its end; the text. */
async function drain(body: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += value;
  }
}

/** The `id:` fields of a text/event-stream, in order. */
const idsIn = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

/**
 * A body that passes on `body` until `afterEvents` whole events and a few bytes of the next have
 * gone through, then is cut — it errors as a reset connection would ("error"), or ends as if the
 * stream were over ("end") — and cancels `body` (the server sees the client go away).
 */
function cut(body: ReadableStream<Uint8Array>, afterEvents: number, how: "error" | "end"): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = "";
  let events = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      pending += decoder.decode(value, { stream: true });
      let end: number;
      while (events < afterEvents && (end = pending.indexOf("\n\n")) >= 0) {
        const block = pending.slice(0, end + 2);
        controller.enqueue(encoder.encode(block));
        pending = pending.slice(end + 2);
        // Only events count (not the server's `retry:` advice or keep-alive comments).
        if (/^data: /m.test(block)) events++;
      }
      if (events < afterEvents) return;
      // Half of the next event, once it has come: the client must drop it and get it again.
      if (pending.length < 12) return;
      controller.enqueue(encoder.encode(pending.slice(0, 12)));
      await reader.cancel("cut by the test");
      if (how === "error") controller.error(new TypeError("Network connection lost."));
      else controller.close();
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

interface Connection {
  lastEventId: string | null;
  status: number;
  /** The run's status as the connection was made. */
  runStatus: string;
}

/**
 * EventSource's `fetch`: the key on each request, which goes to the dispatcher's own fetch handler;
 * `retry: 20` put ahead of each body in place of the server's `retry: 1000` (EventSource would wait a second
 * to reconnect); each body handed to `shape` with the connection's number (0 first).
 */
function eventSourceFetch(t: TestTenant, runId: string, connections: Connection[], shape: (body: ReadableStream<Uint8Array>, n: number) => ReadableStream<Uint8Array>): FetchLike {
  return async (url, init) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${t.key}`);
    const runStatus = (await record(t, runId)).status;
    const res = await exports.default.fetch(new Request(url, { headers, signal: init.signal }));
    const n = connections.length;
    connections.push({ lastEventId: headers.get("last-event-id"), status: res.status, runStatus });
    if (!res.body || res.status !== 200) return res;
    const retry = new TextEncoder().encode("retry: 20\n\n");
    // An error of the shaped body reaches the client as is (a reset connection).
    // The server advises a 1 s retry in its first chunk; the test's own advice replaces it.
    const body = shape(res.body, n).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        start: (controller) => controller.enqueue(retry),
        transform: (chunk, controller) => controller.enqueue(new TextDecoder().decode(chunk.slice(0, 7)) === "retry: " ? chunk.slice(chunk.indexOf(10) + 2) : chunk),
      }),
    );
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

interface Received {
  id: number;
  type: string;
  data: { n?: number; status?: string; output?: unknown; id?: string };
}

/** Follows the run with an EventSource until run.completed / run.failed; what it received, in order. */
function follow(url: string, fetch: FetchLike): Promise<{ events: Received[]; errors: number }> {
  return new Promise((resolve, reject) => {
    const es = new EventSource(url, { fetch });
    const events: Received[] = [];
    let errors = 0;
    const timer = setTimeout(() => {
      es.close();
      reject(new Error(`no run.completed after 10 s; got ${JSON.stringify(events.map((e) => e.id))}`));
    }, 10_000);
    const on = (event: MessageEvent) => {
      events.push({ id: Number(event.lastEventId), type: event.type, data: JSON.parse(event.data as string) as Received["data"] });
      if (event.type === "run.completed" || event.type === "run.failed") {
        es.close();
        clearTimeout(timer);
        resolve({ events, errors });
      }
    };
    for (const type of ["run.started", "tick", "run.completed", "run.failed", "message"]) es.addEventListener(type, on);
    es.addEventListener("error", () => {
      errors++;
      if (errors > 10) {
        es.close();
        clearTimeout(timer);
        reject(new Error(`EventSource kept failing; got ${JSON.stringify(events.map((e) => e.id))}`));
      }
    });
  });
}

/** What a run of COUNTER streams, by id: 1 run.started, 2…TICKS+1 ticks 1…TICKS, then run.completed. */
function expectWholeRun(events: Received[], runId: string): void {
  expect(events.map((e) => e.id)).toEqual(Array.from({ length: LAST }, (_, i) => i + 1));
  expect(events[0]).toMatchObject({ type: "run.started", data: { id: runId } });
  expect(events.slice(1, -1).map((e) => [e.type, e.data.n])).toEqual(Array.from({ length: TICKS }, (_, i) => ["tick", i + 1]));
  expect(events.at(-1)).toMatchObject({ type: "run.completed", data: { id: runId, status: "succeeded", output: { counted: TICKS } } });
}

describe("GET /v1/runs/{id}/stream: resumable with Last-Event-ID", () => {
  it("EventSource resumes a cut stream by itself: every event once, by id, through run.completed", async () => {
    const t = await newTenant();
    await upload(t, "counter", COUNTER);
    const { res, id } = await startStream(t, { count: TICKS, delayMs: 80 });
    // The run's first stream, read to its end alongside: the same events, the same ids.
    const first = drain(res.body!);

    const connections: Connection[] = [];
    // The first connection errors after 4 events (half of the 5th through), the second ends
    // early after 3 more; the third is left alone.
    const shape = (body: ReadableStream<Uint8Array>, n: number) => (n === 0 ? cut(body, 4, "error") : n === 1 ? cut(body, 3, "end") : body);
    const { events, errors } = await follow(`${DISPATCHER}/v1/runs/${id}/stream`, eventSourceFetch(t, id, connections, shape));

    expectWholeRun(events, id);
    expect(errors).toBe(2);
    expect(connections.map((c) => [c.lastEventId, c.status])).toEqual([
      [null, 200],
      ["4", 200],
      ["7", 200],
    ]);
    // The last connection was made while the run went on: it followed the rest live.
    expect(connections[2]!.runStatus).toBe("running");
    expect(idsIn(await first)).toEqual(events.map((e) => e.id));
    expect((await record(t, id)).status).toBe("succeeded");
  });

  it("a run that has ended: replays what is after the id (or ?after=) and closes", async () => {
    const t = await newTenant();
    await upload(t, "counter", COUNTER);
    const { res, id } = await startStream(t, { count: 3, delayMs: 1 });
    expect(idsIn(await drain(res.body!))).toEqual([1, 2, 3, 4, 5]);

    const tail = await dp(`/v1/runs/${id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "3" } });
    expect(tail.status).toBe(200);
    expect(tail.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await drain(tail.body!);
    expect(idsIn(text)).toEqual([4, 5]);
    expect(text).toContain("event: run.completed");
    expect(text).toContain('"output":{"counted":3}');
    expect(idsIn(await drain((await dp(`/v1/runs/${id}/stream?after=1`, { headers: bearer(t.key) })).body!))).toEqual([2, 3, 4, 5]);
    expect(idsIn(await drain((await dp(`/v1/runs/${id}/stream`, { headers: bearer(t.key) })).body!))).toEqual([1, 2, 3, 4, 5]);
    // After the last event: nothing, and the stream closes.
    expect(await drain((await dp(`/v1/runs/${id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "5" } })).body!)).toBe("retry: 1000\n\n");
  });

  it("another tenant's key gets 404; a Last-Event-ID that is not a number gets 400", async () => {
    const t = await newTenant();
    const other = await newTenant();
    await upload(t, "counter", COUNTER);
    const { res, id } = await startStream(t, { count: 2, delayMs: 1 });
    await drain(res.body!);
    await expectProblem(await dp(`/v1/runs/${id}/stream`, { headers: bearer(other.key) }), 404, "not-found");
    await expectProblem(await dp(`/v1/runs/run_${"0".repeat(20)}/stream`, { headers: bearer(t.key) }), 404, "not-found");
    await expectProblem(await dp(`/v1/runs/${id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "abc" } }), 400, "invalid-request");
    await expectProblem(await dp(`/v1/runs/${id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "-1" } }), 400, "invalid-request");
  });
});

describe("POST mode=stream: the connection and the run", () => {
  /** Reads the stream until its first event (run.started), then cancels it. */
  async function hangUp(res: Response): Promise<void> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/^data: .*\n\n/m.test(text)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended before its first event: ${text}`);
      text += value;
    }
    expect(text).toMatch(/^id: 1\nevent: run\.started\n/m);
    await reader.cancel();
  }

  it("a client that goes away mid-run does not stop it: it ends succeeded", async () => {
    const t = await newTenant();
    await upload(t, "counter", COUNTER);
    const { res, id } = await startStream(t, { count: 8, delayMs: 100 });
    await hangUp(res);
    expect((await record(t, id)).status).toBe("running");
    const done = await ended(t, id);
    expect(done.status).toBe("succeeded");
    // Its whole log is there to resume from.
    expect(idsIn(await drain((await dp(`/v1/runs/${id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "1" } })).body!))).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('with "cancelOnDisconnect": true, the run is cancelled when its client goes away', async () => {
    const t = await newTenant();
    await upload(t, "counter", COUNTER);
    const { res, id } = await startStream(t, { count: 8, delayMs: 100 }, { cancelOnDisconnect: true });
    await hangUp(res);
    const done = await ended(t, id);
    expect(done.status).toBe("cancelled");
  });

  it("cancelOnDisconnect is refused outside stream mode", async () => {
    const t = await newTenant();
    await upload(t, "counter", COUNTER);
    await expectProblem(await dp("/v1/agents/counter/runs", json({ input: { count: 1, delayMs: 1 }, cancelOnDisconnect: true }, bearer(t.key))), 400, "invalid-request");
  });
});
