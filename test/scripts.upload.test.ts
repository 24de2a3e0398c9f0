import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NO_DEFAULT, SYNTAX_ERROR, VERSIONED } from "./agents";
import { bearer, cp, expectProblem, multipart, newTenant, patch, run, type TestTenant } from "./helpers";

const MAIN = `import { greet } from "./lib/greet.js";
export default { async fetch(request) { const { input } = await request.json(); return Response.json({ text: greet(input.name) }); } };`;
const LIB = `export function greet(name) { return "hello " + name; }`;

function putForm(t: TestTenant, agent: string, form: FormData) {
  return cp(`/v1/agents/${agent}/script`, { method: "PUT", headers: bearer(t.key), body: form });
}

function putModule(t: TestTenant, agent: string, code: string) {
  return cp(`/v1/agents/${agent}/script`, { method: "PUT", headers: { ...bearer(t.key), "content-type": "application/javascript+module" }, body: code });
}

describe("script upload: multipart, as Workers for Platforms takes it", () => {
  it("several modules with metadata run as one agent", async () => {
    const t = await newTenant();
    const form = multipart({ main_module: "main.js", compatibility_date: "2026-10-01", compatibility_flags: ["nodejs_compat"] }, { "main.js": MAIN, "lib/greet.js": LIB });
    const res = await putForm(t, "multi", form);
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await res.json<{ version: number; size: number; sha256: string }>();
    expect(body.version).toBe(1);
    expect(body.size).toBe(MAIN.length + LIB.length);
    expect((await run(t, "multi", { name: "ada" })).output).toEqual({ text: "hello ada" });

    // The same modules in another order (another boundary, too) have the same digest.
    const again = await putForm(t, "multi", multipart({ main_module: "main.js", compatibility_date: "2026-10-01", compatibility_flags: ["nodejs_compat"] }, { "lib/greet.js": LIB, "main.js": MAIN }));
    expect((await again.json<{ sha256: string }>()).sha256).toBe(body.sha256);
    const stored = await env.BUCKET.get(`scripts/${t.id}/multi/${body.sha256}.json`);
    expect(await stored!.json()).toMatchObject({ mainModule: "main.js", compatibilityDate: "2026-10-01", compatibilityFlags: ["nodejs_compat"] });
  });

  const bad: [string, () => FormData | string, RegExp][] = [
    ["a main module that does not parse (says where)", () => SYNTAX_ERROR, /^agent\.js:1:37: Unexpected token$/],
    ["no default export", () => NO_DEFAULT, /no default export/],
    ["a syntax error in a helper module", () => multipart({ main_module: "main.js" }, { "main.js": MAIN, "lib/greet.js": "export function greet( {" }), /^lib\/greet\.js:1:/],
    ["an unknown compatibility flag", () => multipart({ main_module: "main.js", compatibility_flags: ["nodejs_compat", "experimental"] }, { "main.js": MAIN, "lib/greet.js": LIB }), /Unknown compatibility flag "experimental"/],
    ["a compatibility date in the future", () => multipart({ main_module: "main.js", compatibility_date: "2999-01-01" }, { "main.js": MAIN, "lib/greet.js": LIB }), /in the future/],
    ["a module name with ..", () => multipart({ main_module: "main.js" }, { "main.js": MAIN, "../greet.js": LIB }), /Module name "\.\.\/greet\.js": invalid segment "\.\."/],
    ["an absolute module path", () => multipart({ main_module: "/main.js" }, { "/main.js": MAIN }), /absolute paths are not allowed/],
    ["a reserved module name", () => multipart({ main_module: "main.js" }, { "main.js": MAIN, "__isoplane_harness.js": LIB }), /reserved/],
    ["an import of a module that is not uploaded", () => multipart({ main_module: "main.js" }, { "main.js": MAIN }), /main\.js: imports "\.\/lib\/greet\.js", which is not among the uploaded modules/],
    ["an import that climbs out of the bundle", () => multipart({ main_module: "main.js" }, { "main.js": `import x from "../x.js"; export default x;` }), /imports "\.\.\/x\.js"/],
    ["a main module that is not uploaded", () => multipart({ main_module: "index.js" }, { "main.js": MAIN }), /"index\.js" is not among the uploaded modules/],
    ["no metadata part", () => { const f = new FormData(); f.append("main.js", new File([MAIN], "main.js", { type: "application/javascript+module" })); return f; }, /needs a "metadata" part/],
  ];
  for (const [what, body, detail] of bad) {
    it(`refuses ${what} with a precise 400`, async () => {
      const t = await newTenant();
      const payload = body();
      const res = typeof payload === "string" ? await putModule(t, "bad", payload) : await putForm(t, "bad", payload);
      const problem = await expectProblem(res, 400, "invalid-script");
      expect(problem.detail).toMatch(detail);
      // Nothing was published.
      expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ?").bind(t.id).first("n")).toBe(0);
    });
  }

  it("names modules by their part, not the file name a client sends", async () => {
    const t = await newTenant();
    const form = new FormData();
    form.append("metadata", JSON.stringify({ main_module: "main.js" }));
    form.append("main.js", new File([MAIN], "main.js", { type: "application/javascript+module" }));
    // curl -F 'lib/greet.js=@lib/greet.js' sends the basename as the file name.
    form.append("lib/greet.js", new File([LIB], "greet.js", { type: "application/javascript+module" }));
    expect((await putForm(t, "parts", form)).status).toBe(201);
    expect((await run(t, "parts", { name: "bo" })).output).toEqual({ text: "hello bo" });
  });

  it("reports line and column of a syntax error", async () => {
    const t = await newTenant();
    const problem = await expectProblem(await putModule(t, "bad", "export default {\n  fetch() {\n    return ((;\n  }\n};"), 400, "invalid-script");
    expect(problem).toMatchObject({ module: "agent.js", line: 3, column: 14 });
  });

  it("refuses metadata fields the platform owns (bindings) and malformed metadata", async () => {
    const t = await newTenant();
    const withBindings = multipart({ main_module: "main.js", bindings: [{ type: "r2_bucket", name: "B", bucket_name: "isoplane" }] }, { "main.js": MAIN, "lib/greet.js": LIB });
    expect((await expectProblem(await putForm(t, "bad", withBindings), 400, "invalid-request")).detail).toMatch(/bindings/);
    const form = new FormData();
    form.append("metadata", "{not json");
    form.append("main.js", new File([MAIN], "main.js", { type: "application/javascript+module" }));
    await expectProblem(await putForm(t, "bad", form), 400, "malformed-json");
  });

  it("refuses non-JavaScript module parts with 415", async () => {
    const t = await newTenant();
    const form = multipart({ main_module: "main.js" }, { "main.js": MAIN, "lib/greet.js": LIB, "data.wasm": "\0asm" }, { "data.wasm": "application/wasm" });
    await expectProblem(await putForm(t, "bad", form), 415, "unsupported-media-type");
  });

  it("refuses a total size over the tenant's scriptBytes quota", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { scriptBytes: 100 } }));
    const problem = await expectProblem(await putForm(t, "big", multipart({ main_module: "main.js" }, { "main.js": MAIN, "lib/greet.js": LIB })), 400, "script-quota-exceeded");
    expect(problem).toMatchObject({ size: MAIN.length + LIB.length, limit: 100 });
    expect((await putModule(t, "small", VERSIONED(1))).status).toBe(201);
  });
});
