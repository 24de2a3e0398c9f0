// Small pieces every page uses: loading, empty and error states, status badges, scrollable
// tables, a confirmation dialog, form fields with their API errors, and formatting.
import type { ComponentChildren, JSX } from "preact";
import { useLocation } from "preact-iso";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Loads `fn` when `deps` change (the previous load is aborted), with a `reload` for after a change. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    fn(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ data, error: null, loading: false }),
      (err: unknown) => !abort.signal.aborted && setState({ data: null, error: asApiError(err), loading: false }),
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller names what the load depends on
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "", err instanceof Error ? err.message : String(err));
}

/** Runs an action (a button's), keeping its pending state and error for the caller to show. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>): { run: (...args: A) => Promise<boolean>; pending: boolean; error: ApiError | null; clear: () => void } {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (...args: A) => {
    setPending(true);
    setError(null);
    try {
      await fn(...args);
      return true;
    } catch (err) {
      setError(asApiError(err));
      return false;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(null) };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** An API error as the operator should read it: the problem's detail, with a retry when it helps. */
export function ErrorNote({ error, retry }: { error: ApiError | null; retry?: () => void }) {
  if (!error) return null;
  return (
    <div class="state error" role="alert">
      <strong>{error.status ? `Error ${error.status}` : "Error"}:</strong> {error.detail}
      {retry && (
        <button type="button" class="link" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Loading, error or the content: the three states of anything loaded. */
export function Loaded<T>({ state, what, children }: { state: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (state.error) return <ErrorNote error={state.error} retry={state.reload} />;
  if (state.data === null) return <Loading what={what} />;
  return <>{children(state.data)}</>;
}

const STATUS_CLASS: Record<string, string> = {
  active: "ok",
  succeeded: "ok",
  running: "live",
  queued: "wait",
  suspended: "warn",
  expired: "warn",
  cancelled: "warn",
  failed: "bad",
  timed_out: "bad",
  revoked: "bad",
  deleted: "bad",
};

export function Status({ value }: { value: string }) {
  return <span class={`badge ${STATUS_CLASS[value] ?? ""}`}>{value.replace("_", " ")}</span>;
}

/** A table that scrolls sideways on narrow screens; focusable so keyboards can scroll it. */
export function Table({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

/** The first and next page links of a cursor-paged list; `href` is the page's URL for a cursor. */
export function Pager({ href, cursor, next, children }: { href: (cursor?: string) => string; cursor: string; next: string | null; children?: ComponentChildren }) {
  return (
    <p class="pager">
      {cursor && <a href={href()}>First page</a>}
      {next && <a href={href(next)}>Next page</a>}
      {children}
    </p>
  );
}

/** The page's query parameters by name ("" when absent): a list's filters live in its URL. */
export function useQuery<K extends string>(...names: K[]): Record<K, string> {
  const { query } = useLocation();
  return Object.fromEntries(names.map((n) => [n, query[n] ?? ""])) as Record<K, string>;
}

/** A form's submit handler that runs an action instead of navigating. */
export const submitting = (run: () => unknown) => (e: Event) => {
  e.preventDefault();
  void run();
};

/** A table's header row; the columns named in `num` hold numbers (right-aligned). */
export function Head({ cols, num = [] }: { cols: string[]; num?: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th scope="col" key={c} class={num.includes(c) ? "num" : undefined}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** A button that asks first, in a modal dialog (focus stays inside; Escape cancels). */
export function ConfirmButton(props: {
  label: string;
  title: string;
  body: ComponentChildren;
  confirm: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<boolean>;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const close = () => dialog.current?.close();
  return (
    <>
      <button type="button" class={props.danger ? "danger" : "secondary"} disabled={props.disabled} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.title}>
        <h2>{props.title}</h2>
        <div>{props.body}</div>
        <div class="actions">
          <button type="button" class="secondary" onClick={close}>
            Cancel
          </button>
          <button
            type="button"
            class={props.danger ? "danger" : "primary"}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              const ok = await props.onConfirm();
              setBusy(false);
              if (ok) close();
            }}
          >
            {props.confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

let fieldIds = 0;

/** A labelled input with its API validation error below it (aria-invalid, aria-describedby). */
export function Field(props: { label: string; error?: string; hint?: string; children: (attrs: { id: string; "aria-invalid"?: "true"; "aria-describedby"?: string }) => JSX.Element }) {
  const id = useRef(`f${++fieldIds}`).current;
  const described = [props.error ? `${id}-error` : "", props.hint ? `${id}-hint` : ""].filter(Boolean).join(" ");
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.children({ id, ...(props.error ? { "aria-invalid": "true" } : {}), ...(described ? { "aria-describedby": described } : {}) })}
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={`${id}-error`} class="field-error">
          {props.error}
        </small>
      )}
    </div>
  );
}

// ---- formatting ----

export const fmtTime = (iso: string | null | undefined) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—");
export const fmtNumber = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n.toLocaleString("en-US"));

export function fmtDuration(from: string | null, to: string | null): string {
  if (!from) return "—";
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The current UTC month as YYYY-MM. */
export const thisMonth = () => new Date().toISOString().slice(0, 7);

/** Sets the document title for the page shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Isoplane`;
  }, [title]);
}
