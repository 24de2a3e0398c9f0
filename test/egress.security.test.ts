import { describe, expect, it } from "vitest";
import { cp, expectProblem, newTenant, patch, run, runEvents, upload } from "./helpers";

/** Fetches each URL of its input and reports what came back, or what was thrown. */
const FETCHER = `export default {
  async fetch(request) {
    const { input } = await request.json();
    const out = [];
    for (const url of input.urls) {
      try {
        const r = await fetch(url, { headers: { "x-custom": "1" } });
        out.push({ status: r.status, body: await r.json().catch(() => null) });
      } catch (err) {
        out.push({ error: String(err.message ?? err) });
      }
    }
    return Response.json(out);
  },
};`;

interface Outcome {
  status?: number;
  error?: string;
  body?: { type?: string; reason?: string; host?: string; headers?: Record<string, string> } | null;
}

describe("egress policy through a real run", () => {
  it("allows allowlisted hosts, denies the rest, counts subrequests and logs denials on the run", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: ["api.example.test", "*.cdn.example.test"] }));
    await upload(t, "fetcher", FETCHER);
    const urls = [
      "https://api.example.test/v1/things?token=secret",
      "https://img.cdn.example.test/a.png",
      "https://cdn.example.test/apex-not-covered",
      "https://other.example.test/",
      "http://127.0.0.1:8787/v1/runs",
      "http://localhost/",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.5/",
      "http://[::1]/",
      "http://2130706433/",
      "https://api.example.test:8443/",
    ];
    const result = await run(t, "fetcher", { urls });
    expect(result.status).toBe("succeeded");
    const out = result.output as Outcome[];
    expect(out[0]).toMatchObject({ status: 200, body: { host: "api.example.test", path: "/v1/things" } });
    // The platform's tagging header never leaves; the agent's own headers do.
    expect(out[0]!.body!.headers!["x-isoplane-run-id"]).toBeUndefined();
    expect(out[0]!.body!.headers!["x-custom"]).toBe("1");
    expect(out[1]).toMatchObject({ status: 200, body: { host: "img.cdn.example.test" } });
    for (const denied of out.slice(2)) {
      expect(denied.status).toBe(403);
      expect(denied.body!.type).toBe("https://isoplane.dev/problems/egress-denied");
    }
    expect(result.usage.subrequests).toBe(2);

    const all = await runEvents(t, result.id);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all[0]!.type).toBe("run.started");
    expect(all.at(-1)!.type).toBe("run.completed");
    const results = all.filter((e) => e.type === "egress.denied");
    expect(results).toHaveLength(9);
    const logged = results.map((e) => e.data as { url: string; reason: string });
    expect(logged[2]!.url).toBe("http://127.0.0.1:8787/v1/runs");
    expect(logged[5]!.reason).toMatch(/private/);
    // Query strings are not logged: they often carry tokens.
    expect(JSON.stringify(logged)).not.toContain("secret");
  });

  it("enforces subrequestsPerRun", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: ["api.example.test"], quotas: { subrequestsPerRun: 2 } }));
    await upload(t, "fetcher", FETCHER);
    const result = await run(t, "fetcher", { urls: Array(5).fill("https://api.example.test/x") });
    expect((result.output as Outcome[]).map((o) => o.status)).toEqual([200, 200, 403, 403, 403]);
    expect(((result.output as Outcome[])[2]!.body as { reason: string }).reason).toMatch(/used its 2 subrequests/);
    // Only requests let through are counted (and billed).
    expect(result.usage.subrequests).toBe(2);
  });

  it("platform-written events are bounded per run: past 100 denials only a marker", async () => {
    const t = await newTenant();
    await upload(t, "fetcher", FETCHER);
    const result = await run(t, "fetcher", { urls: Array(130).fill("https://denied.example.test/") });
    expect(result.status).toBe("succeeded");
    const log = await runEvents(t, result.id);
    expect(log.filter((e) => e.type === "egress.denied")).toHaveLength(100);
    expect(log.filter((e) => e.type === "events.suppressed")).toEqual([expect.objectContaining({ data: { after: 100, type: "egress.denied" } })]);
    expect(log.at(-1)!.type).toBe("run.completed");
  });

  it("refuses URLs with credentials however they are passed (string, URL, Request), logs each on the run and does not count it", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: ["api.example.test"] }));
    await upload(
      t,
      "creds",
      `export default {
        async fetch() {
          const attempts = [
            "https://user:s3cret@api.example.test/string",
            new URL("https://user:s3cret@api.example.test/url"),
            new Request("https://user:s3cret@api.example.test/request", { method: "POST", body: "secret body" }),
            "https://user@api.example.test/user-only",
            "https://:s3cret@api.example.test/password-only",
            "https://api.example.test/at%40sign?q=a@b",
          ];
          const out = [];
          for (const a of attempts) {
            const r = await fetch(a, { headers: { "x-isoplane-url-credentials": "forged" } });
            out.push({ status: r.status, type: r.headers.get("content-type"), body: await r.json() });
          }
          return Response.json(out);
        },
      };`,
    );
    const result = await run(t, "creds");
    expect(result.status).toBe("succeeded");
    const out = result.output as { status: number; type: string; body: { type?: string; title?: string; detail?: string; reason?: string; path?: string; headers?: Record<string, string> } }[];
    const paths = ["/string", "/url", "/request", "/user-only", "/password-only"];
    for (const [i, path] of paths.entries()) {
      expect(out[i]!.status).toBe(403);
      expect(out[i]!.type).toBe("application/problem+json");
      // The same problem the egress policy answers with; the credentials are not echoed.
      expect(out[i]!.body).toEqual({
        type: "https://isoplane.dev/problems/egress-denied",
        title: "The platform's egress policy denied this request",
        status: 403,
        detail: `${i === 2 ? "POST" : "GET"} https://api.example.test${path}: credentials in the URL are not allowed.`,
        reason: "credentials in the URL are not allowed",
      });
    }
    // A URL without credentials goes through, and the platform's marker never leaves (nor does a forged one).
    expect(out[5]).toMatchObject({ status: 200, body: { host: "api.example.test", path: "/at%40sign" } });
    expect(out[5]!.body.headers!["x-isoplane-url-credentials"]).toBeUndefined();
    expect(result.usage.subrequests).toBe(1);
    const denials = (await runEvents(t, result.id)).filter((e) => e.type === "egress.denied").map((e) => e.data);
    expect(denials).toEqual(paths.map((path, i) => ({ method: i === 2 ? "POST" : "GET", url: `https://api.example.test${path}`, reason: "credentials in the URL are not allowed" })));
    expect(JSON.stringify(denials)).not.toContain("s3cret");
    expect(JSON.stringify(out)).not.toContain("s3cret");
  });

  it("a tenant with no allowlist reaches nothing; non-http schemes never work", async () => {
    const t = await newTenant();
    await upload(t, "fetcher", FETCHER);
    const out = (await run(t, "fetcher", { urls: ["https://api.example.test/", "ftp://api.example.test/"] })).output as Outcome[];
    expect(out[0]!.status).toBe(403);
    expect(out[1]!.status === 403 || typeof out[1]!.error === "string").toBe(true);
  });

  it("allowlist entries are validated", async () => {
    const t = await newTenant();
    for (const bad of ["http://x.com", "x", "*.com:99999999", "a b.com", "*"]) {
      await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: [bad] })), 400, "invalid-request");
    }
  });
});
