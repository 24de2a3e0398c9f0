// The operator dashboard: a Preact app served by the control plane at /dashboard, over the admin
// API on the same origin. Signing in exchanges the admin token for an HttpOnly session cookie.
import { render } from "preact";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, setCsrfToken, whenSignedOut, type SessionInfo } from "./api";
import { AuditPage } from "./pages/audit";
import { OverviewPage } from "./pages/overview";
import { RunPage } from "./pages/run";
import { RunsPage } from "./pages/runs";
import { SignInPage } from "./pages/sign-in";
import { TenantPage } from "./pages/tenant";
import { TenantsPage } from "./pages/tenants";
import { ErrorNote, Loading } from "./ui";
import "./styles.css";

type Session = { state: "checking" } | { state: "out"; reason?: string } | { state: "in"; info: SessionInfo } | { state: "error"; error: ApiError };

const NAV = [
  { href: "/dashboard", label: "Overview" },
  { href: "/dashboard/tenants", label: "Tenants" },
  { href: "/dashboard/runs", label: "Runs" },
  { href: "/dashboard/audit", label: "Audit log" },
];

function App() {
  const { path, route } = useLocation();
  const [session, setSession] = useState<Session>({ state: "checking" });
  const main = useRef<HTMLElement>(null);
  const shown = useRef(path);

  // After a navigation, focus moves to the new page (screen readers announce it).
  useEffect(() => {
    if (shown.current !== path) main.current?.focus();
    shown.current = path;
  }, [path]);

  // The session is checked at start and on each navigation, which also renews it while in use.
  useEffect(() => {
    whenSignedOut(() => {
      setCsrfToken(null);
      setSession({ state: "out", reason: "Your session has ended. Sign in again." });
    });
  }, []);
  useEffect(() => {
    if (session.state === "out") return;
    let live = true;
    api<SessionInfo>("GET", "/dashboard/session").then(
      (info) => {
        if (!live) return;
        setCsrfToken(info.csrfToken);
        setSession({ state: "in", info });
      },
      (err: ApiError) => live && setSession(err.status === 401 ? { state: "out" } : { state: "error", error: err }),
    );
    return () => {
      live = false;
    };
  }, [path, session.state === "out"]);

  if (session.state === "checking") return <Loading what="the dashboard" />;
  if (session.state === "error") return <ErrorNote error={session.error} retry={() => setSession({ state: "checking" })} />;
  if (session.state === "out") {
    return (
      <SignInPage
        reason={session.reason}
        onSignedIn={(info) => {
          setCsrfToken(info.csrfToken);
          setSession({ state: "in", info });
          if (path === "/dashboard/sign-in") route("/dashboard", true);
        }}
      />
    );
  }

  const signOut = async () => {
    await api("DELETE", "/dashboard/session").catch(() => {});
    setCsrfToken(null);
    setSession({ state: "out", reason: "You are signed out." });
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/dashboard">
          Isoplane
        </a>
        <nav aria-label="Dashboard">
          <ul>
            {NAV.map((n) => {
              const current = n.href === "/dashboard" ? path === "/dashboard" : path.startsWith(n.href);
              return (
                <li key={n.href}>
                  <a href={n.href} aria-current={current ? "page" : undefined}>
                    {n.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <button type="button" class="secondary sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        <Router>
          <Route path="/dashboard" component={OverviewPage} />
          <Route path="/dashboard/tenants" component={TenantsPage} />
          <Route path="/dashboard/tenants/:id" component={TenantPage} />
          <Route path="/dashboard/runs" component={RunsPage} />
          <Route path="/dashboard/runs/:id" component={RunPage} />
          <Route path="/dashboard/audit" component={AuditPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no dashboard page at this address. <a href="/dashboard">Go to the overview</a>.
      </p>
    </section>
  );
}

render(
  <LocationProvider scope="/dashboard">
    <App />
  </LocationProvider>,
  document.getElementById("app")!,
);
