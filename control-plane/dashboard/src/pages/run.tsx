import { createParser } from "eventsource-parser";
import { useRoute } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, get, qs, request, type Run, type RunEvent } from "../api";
import { asApiError, ConfirmButton, Empty, ErrorNote, fmtDuration, fmtNumber, fmtTime, Loaded, Loading, Status, useAction, useLoad, useTitle } from "../ui";

const OPEN = new Set(["queued", "running"]);
const USAGE_LABELS: Record<string, string> = {
  wallMs: "Wall time (ms)",
  cpuMs: "CPU time (ms)",
  llmCalls: "Model calls",
  inputTokens: "Input tokens",
  outputTokens: "Output tokens",
  storageReads: "Storage reads",
  storageWrites: "Storage writes",
  bytesRead: "Bytes read",
  bytesWritten: "Bytes written",
  subrequests: "Subrequests",
};
const TERMINAL = new Set(["run.completed", "run.failed"]);

/** One run: its status, usage, output and event timeline; live (the resumable stream) while it runs. */
export function RunPage() {
  const { params } = useRoute();
  const id = params.id ?? "";
  useTitle(`Run ${id}`);
  const loaded = useLoad((signal) => get<Run>(`/admin/runs/${encodeURIComponent(id)}`, signal), [id]);
  return (
    <Loaded state={loaded} what="the run">
      {(run) => <RunBody key={run.id} initial={run} reload={loaded.reload} />}
    </Loaded>
  );
}

function RunBody({ initial, reload }: { initial: Run; reload: () => void }) {
  const [run, setRun] = useState(initial);
  useEffect(() => setRun(initial), [initial]);
  const open = OPEN.has(run.status);
  // While it runs, its usage so far is read again every few seconds.
  useEffect(() => {
    if (!open) return;
    const timer = setInterval(() => {
      get<Run>(`/admin/runs/${run.id}`).then(
        (r) => setRun((current) => (OPEN.has(current.status) ? r : current)),
        () => {},
      );
    }, 3000);
    return () => clearInterval(timer);
  }, [open, run.id]);
  const cancel = useAction(async () => {
    setRun(await api<Run>("POST", `/admin/runs/${run.id}/cancel`));
  });
  return (
    <section>
      <p class="crumbs">
        <a href="/dashboard/runs">Runs</a> / <code>{run.id}</code>
      </p>
      <div class="title-row">
        <h1>
          Run <code>{run.id}</code>
        </h1>
        <Status value={run.status} />
        {open && (
          <ConfirmButton
            label="Cancel run"
            title="Cancel this run?"
            danger
            confirm="Cancel run"
            body={
              <>
                <p>The run ends at once as cancelled; its isolate is stopped and its usage so far is billed.</p>
                <ErrorNote error={cancel.error} />
              </>
            }
            onConfirm={() => cancel.run()}
          />
        )}
      </div>
      <dl class="facts">
        <dt>Tenant</dt>
        <dd>
          <a href={`/dashboard/tenants/${run.tenantId}`}>
            <code>{run.tenantId}</code>
          </a>
        </dd>
        <dt>Agent</dt>
        <dd>
          <a href={`/dashboard/runs${qs({ tenant: run.tenantId, agent: run.agent })}`}>{run.agent}</a> v{run.version}
        </dd>
        <dt>Created</dt>
        <dd>{fmtTime(run.createdAt)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(run.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{fmtTime(run.finishedAt)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(run.startedAt, run.finishedAt)}</dd>
        {run.endUser && (
          <>
            <dt>End user</dt>
            <dd>{run.endUser}</dd>
          </>
        )}
      </dl>
      {run.error && (
        <p class="state error" role="note">
          <strong>Error:</strong> {run.error}
        </p>
      )}
      <h2>Usage{open && <span class="muted"> (so far)</span>}</h2>
      <dl class="usage">
        {Object.entries(run.usage).map(([k, v]) => (
          <div key={k}>
            <dt>{USAGE_LABELS[k] ?? k}</dt>
            <dd>{v === null ? <span class="muted">not measured</span> : fmtNumber(v)}</dd>
          </div>
        ))}
      </dl>
      {run.status === "succeeded" && (
        <>
          <h2>Output</h2>
          <pre class="output" tabIndex={0} aria-label="Output">
            {JSON.stringify(run.output ?? null, null, 2)}
          </pre>
        </>
      )}
      <h2>Timeline</h2>
      {open ? <LiveTimeline runId={run.id} ended={(r) => (r ? setRun(r) : reload())} /> : <StoredTimeline runId={run.id} />}
    </section>
  );
}

/** The stored log, a page at a time. */
function StoredTimeline({ runId }: { runId: string }) {
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [next, setNext] = useState<number | null>(0);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const more = async (after: number) => {
    setLoading(true);
    setError(null);
    try {
      const page = await get<{ events: RunEvent[]; next: number | null }>(`/admin/runs/${runId}/events${qs({ after, limit: 500 })}`);
      setEvents((e) => (after === 0 ? page.events : [...e, ...page.events]));
      setNext(page.next);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void more(0);
  }, [runId]);
  if (error) return <ErrorNote error={error} retry={() => more(events.at(-1)?.seq ?? 0)} />;
  if (loading && events.length === 0) return <Loading what="events" />;
  return (
    <>
      <Timeline events={events} />
      {next !== null && (
        <button type="button" class="secondary" disabled={loading} onClick={() => more(next)}>
          Load more events
        </button>
      )}
    </>
  );
}

/**
 * Follows GET /admin/runs/{id}/stream: replays the log, then events as they happen. A dropped
 * connection resumes after the last event id, so nothing is missed or shown twice; the stream
 * ends with the run's final event, which carries the whole run.
 */
function LiveTimeline({ runId, ended }: { runId: string; ended: (run: Run | null) => void }) {
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [state, setState] = useState<"connecting" | "live" | "reconnecting">("connecting");
  useEffect(() => {
    const abort = new AbortController();
    let last = 0;
    let done = false;
    const follow = async () => {
      // What the log holds so far, with the times it was recorded; then the stream from there on.
      try {
        for (let after = 0; ; ) {
          const page = await get<{ events: RunEvent[]; next: number | null }>(`/admin/runs/${runId}/events${qs({ after, limit: 1000 })}`, abort.signal);
          if (page.events.length) last = page.events.at(-1)!.seq;
          setEvents((list) => [...list, ...page.events]);
          if (page.next === null) break;
          after = page.next;
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        setError(asApiError(err));
        return;
      }
      while (!abort.signal.aborted && !done) {
        try {
          // After a drop, the stream resumes after the last event seen: nothing missed, nothing twice.
          const res = await request("GET", `/admin/runs/${runId}/stream${qs({ after: last })}`, undefined, abort.signal);
          setState("live");
          setError(null);
          const parser = createParser({
            onEvent: (e) => {
              const seq = Number(e.id ?? NaN);
              if (Number.isInteger(seq)) {
                if (seq <= last) return;
                last = seq;
              }
              const type = e.event ?? "message";
              const data = parse(e.data);
              setEvents((list) => [...list, { seq, at: new Date().toISOString(), type, data }]);
              if (TERMINAL.has(type)) {
                done = true;
                const { output, ...rest } = (data ?? {}) as Run & { output?: unknown };
                ended(rest.id ? ({ ...rest, output } as Run) : null);
              }
            },
          });
          const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const chunk = await reader.read();
            if (chunk.done) break;
            parser.feed(chunk.value);
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          const problem = asApiError(err);
          // A 4xx will not change by retrying (the run is gone, the session ended).
          if (problem.status >= 400 && problem.status < 500) {
            setError(problem);
            return;
          }
        }
        if (done || abort.signal.aborted) return;
        setState("reconnecting");
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void follow();
    return () => abort.abort();
  }, [runId]);
  return (
    <>
      <p class="live" role="status" aria-live="polite">
        <span class={`dot ${state}`} aria-hidden="true" /> {state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…"} ·{" "}
        {events.length} events
      </p>
      <ErrorNote error={error} />
      {events.length === 0 && !error ? <Empty>No events yet.</Empty> : <Timeline events={events} live />}
    </>
  );
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface Row {
  seq: number;
  at: string;
  type: string;
  count: number;
  text: string;
}

/** Consecutive model deltas read as one row of text; every other event is a row of its own. */
function rows(events: RunEvent[]): Row[] {
  const out: Row[] = [];
  for (const e of events) {
    const prev = out.at(-1);
    const delta = e.type === "llm.delta" && typeof (e.data as { content?: unknown })?.content === "string" ? (e.data as { content: string }).content : null;
    if (delta !== null && prev?.type === "llm.delta") {
      prev.count++;
      prev.text += delta;
      continue;
    }
    out.push({ seq: e.seq, at: e.at, type: e.type, count: 1, text: delta ?? summary(e.data) });
  }
  return out;
}

function summary(data: unknown): string {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function Timeline({ events, live = false }: { events: RunEvent[]; live?: boolean }) {
  const list = useMemo(() => rows(events), [events]);
  if (list.length === 0) return <Empty>This run has no events.</Empty>;
  return (
    <ol class="timeline" aria-label={live ? "Events (live)" : "Events"}>
      {list.map((r) => (
        <li key={`${r.seq}-${r.type}`} class={r.type.startsWith("run.") ? "platform" : ""}>
          <span class="seq">#{Number.isInteger(r.seq) ? r.seq : "–"}</span>
          <time dateTime={r.at}>{fmtTime(r.at).slice(11, 19)}</time>
          <span class="type">
            {r.type}
            {r.count > 1 && <span class="muted"> ×{r.count}</span>}
          </span>
          <code class="data">{r.text}</code>
        </li>
      ))}
    </ol>
  );
}
