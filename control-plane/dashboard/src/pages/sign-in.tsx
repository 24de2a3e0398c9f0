import { useRef, useState } from "preact/hooks";
import { api, type SessionInfo } from "../api";
import { asApiError, ErrorNote, Field, useTitle } from "../ui";
import type { ApiError } from "../api";

/**
 * The admin token is typed here and sent once, in the body of POST /dashboard/session, which
 * answers with an HttpOnly cookie. The field is cleared at once; the token is kept nowhere.
 * The form posts (never GETs) even without its handler, so the token cannot land in a URL.
 */
export function SignInPage({ reason, onSignedIn }: { reason?: string; onSignedIn: (info: SessionInfo) => void }) {
  useTitle("Sign in");
  const input = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const token = input.current?.value ?? "";
    setPending(true);
    setError(null);
    try {
      const info = await api<SessionInfo>("POST", "/dashboard/session", { token });
      if (input.current) input.current.value = "";
      onSignedIn(info);
    } catch (err) {
      setError(asApiError(err));
      input.current?.focus();
    } finally {
      setPending(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <form method="post" action="/dashboard/session" onSubmit={submit} class="card">
        <h1>Isoplane dashboard</h1>
        {reason && <p role="status">{reason}</p>}
        <p>Sign in with the platform's admin token. It is exchanged for a session cookie that lasts an hour while you use it (at most 12 hours).</p>
        <Field label="Admin token" error={error?.status === 401 ? error.detail : undefined}>
          {(attrs) => <input {...attrs} ref={input} type="password" name="token" autoComplete="off" spellcheck={false} required autoFocus />}
        </Field>
        {error && error.status !== 401 && <ErrorNote error={error} />}
        <button type="submit" class="primary" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
