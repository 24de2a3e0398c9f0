#!/usr/bin/env node
// `npm run test:browser`: the operator dashboard in a real browser. Boots `npm start` on a fresh
// state folder and its own ports (as test:faults does), then drives Debian's Chromium through
// Playwright (playwright-core, no browser download): sign in, create a tenant, create a key (shown
// once, then never again), a bad quota value (inline error) then a good one, a run started through
// the API appears in Runs and its timeline opens, a live run's events arrive and cancel ends it,
// the CSV export downloads and matches the API's, the audit log, sign-out. Every page is checked
// with axe-core (no serious or critical violation), for CSP violations and page errors, and
// screenshotted at 1280×800 (and some at phone width) into test-artifacts/browser/ (git-ignored).
// Without /usr/bin/chromium it says so in one line and exits 0.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, freePort, root, runMain, startPlatform } from "./platform-process.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  console.log(`browser: skipped, no Chromium at ${CHROMIUM} (install it with: apt-get install -y chromium)`);
  process.exit(0);
}
const { chromium } = await import("playwright-core");
const { AxeBuilder } = await import("@axe-core/playwright");

const artifacts = join(root, "test-artifacts", "browser");
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
const home = mkdtempSync(join(tmpdir(), "isoplane-browser-"));
const ports = { dispatcher: await freePort(), controlPlane: await freePort() };
const DP = `http://127.0.0.1:${ports.dispatcher}`;
const CP = `http://127.0.0.1:${ports.controlPlane}`;
const ADMIN = `adm_${randomBytes(24).toString("base64url")}`;
const log = (line) => process.stdout.write(`browser: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Emits a tick every 250 ms for half a minute: a run to watch live and cancel. */
const TICKER = `export default { async fetch(request, env) {
  for (let i = 0; i < 120; i++) { await env.EMIT("agent.tick", { i }); await new Promise((r) => setTimeout(r, 250)); }
  return Response.json({ ticks: 120 });
} };`;
/** Reads a context document, asks the model, emits an event and answers. */
const SUMMARIZE = `export default { async fetch(request, env) {
  const { input } = await request.json();
  await env.EMIT("agent.event", { stage: "reading", doc: input.doc });
  const doc = await env.STORAGE.get("context/" + input.doc);
  const answer = await env.LLM.chat({ messages: [{ role: "user", content: doc }] });
  return Response.json({ summary: answer.content });
} };`;

const results = [];
const problems = [];
let page;
let context;

/** One named flow: passes, or fails with its error and a screenshot of where it stopped. */
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    results.push({ name, ok: false });
    log(`✗ ${name}: ${err instanceof Error ? err.message : err}`);
    await page?.screenshot({ path: join(artifacts, `failed-${results.length}.png`), fullPage: true }).catch(() => {});
  }
}

function check(condition, what) {
  if (!condition) throw new Error(what);
}

/** axe-core on the page as shown: no serious or critical violation; a full-page screenshot. */
async function audit(name, { phone = false } = {}) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) problems.push(`${name}: axe ${v.impact} ${v.id} — ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  check(bad.length === 0, `axe found ${bad.length} serious or critical violations on ${name}: ${bad.map((v) => v.id).join(", ")}`);
  if (phone) {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(artifacts, `${name}-phone.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} scrolls sideways at phone width (${overflow}px)`);
    await page.setViewportSize(size);
  }
}

async function goto(path) {
  await page.goto(`${CP}${path}`);
  await page.waitForLoadState("networkidle").catch(() => {});
}

const heading = (name) => page.getByRole("heading", { level: 1, name });

async function main() {
  log(`starting the platform (npm start) on ${DP} and ${CP}…`);
  const platform = startPlatform({ home, ports, env: { ISOPLANE_ADMIN_TOKEN: ADMIN, ISOPLANE_VERBOSE: "1", RUN_TIMEOUT_MS: "120000" } });
  try {
    await platform.ready;
    check(platform.output().includes(`${CP}/dashboard`), "npm start does not print the dashboard's address");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // What this machine's Chromium needs (no sandbox as root, no background network calls);
      // Playwright gives every launch a fresh profile directory.
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      await flows(browser);
    } finally {
      await browser.close();
    }
    await step("the admin token is in no log line and no URL the platform saw", async () => {
      const output = platform.output();
      check(/GET \/dashboard/.test(output) || output.includes("/dashboard"), "the platform's request log is empty (ISOPLANE_VERBOSE)");
      check(!output.includes(ADMIN), "the admin token appears in the platform's output");
    });
  } finally {
    platform.kill();
  }
}

async function flows(browser) {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: CP });
  page = await context.newPage();
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  const urls = [];
  page.on("request", (req) => urls.push(req.url()));

  let tenant;
  let key;

  await step("sign in: a wrong token is refused inline, the right one opens the overview; the token is kept nowhere", async () => {
    await goto("/dashboard/tenants");
    await page.getByLabel("Admin token").waitFor();
    await audit("sign-in");
    // Keyboard only: the field has focus; type and press Enter.
    await page.keyboard.type("adm_not-the-token");
    await page.keyboard.press("Enter");
    await page.getByText("That is not the admin token.").waitFor();
    await page.getByLabel("Admin token").fill(ADMIN);
    await page.getByLabel("Admin token").press("Enter");
    await heading("Tenants").waitFor();
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, url: location.href }));
    check(!stored.includes(ADMIN), "the admin token is in storage, a readable cookie or the URL");
    check(!stored.includes("isoplane-session"), "the session cookie is readable by scripts (not HttpOnly)");
    const cookies = await context.cookies(CP);
    const session = cookies.find((c) => c.name === "isoplane-session");
    check(session?.httpOnly && session.sameSite === "Strict", `the session cookie is ${JSON.stringify(session)}`);
    check(session.expires * 1000 - Date.now() <= 3600_000 + 5000, "the session lasts more than an hour");
  });

  await step("keyboard: the first Tab reaches 'Skip to content', which moves focus to the page", async () => {
    await goto("/dashboard");
    await heading("Overview").waitFor();
    await page.keyboard.press("Tab");
    check((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "the first Tab stop is not the skip link");
    await page.keyboard.press("Enter");
    check((await page.evaluate(() => document.activeElement?.id)) === "main", "the skip link does not move focus to the page");
  });

  await step("create a tenant (an empty name is refused inline first)", async () => {
    await goto("/dashboard/tenants");
    await page.getByRole("button", { name: "Create tenant" }).click();
    const name = page.getByRole("form", { name: "Create a tenant" }).getByLabel("Name");
    await page.locator(".field-error").first().waitFor();
    check((await name.getAttribute("aria-invalid")) === "true", "the empty name is not marked invalid");
    await name.fill("Acme Research");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await heading("Acme Research").waitFor();
    tenant = page.url().split("/").pop();
    check(/^ten_/.test(tenant), `the tenant page's URL is ${page.url()}`);
    const viaApi = await call("GET", `${CP}/admin/tenants/${tenant}`, { token: ADMIN }, 200);
    check(viaApi.name === "Acme Research", "the API does not have the tenant");
  });

  await step("create a key: its secret is shown once with a copy button, then never again", async () => {
    await page.getByLabel("Key name").fill("laptop");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.locator("[data-secret]");
    await secret.waitFor();
    key = (await secret.textContent()).trim();
    check(/^isk_[0-9A-Za-z]{36}$/.test(key), `the shown key is ${key}`);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    check((await page.evaluate(() => navigator.clipboard.readText())) === key, "the copy button did not copy the key");
    await audit("tenant-new-key");
    // The key works: the tenant's API answers it.
    await call("GET", `${DP}/v1/runs`, { token: key }, 200);
    await page.getByRole("button", { name: "Done" }).click();
    check((await secret.count()) === 0, "the secret is still shown after Done");
    await page.reload();
    await page.getByRole("region", { name: "API keys" }).getByRole("cell", { name: "laptop", exact: true }).waitFor();
    check(!(await page.content()).includes(key), "the key's secret is in the page again after a reload");
    check((await call("GET", `${CP}/admin/tenants/${tenant}/keys`, { token: ADMIN }, 200)).keys.every((k) => !JSON.stringify(k).includes(key)), "the API lists the secret");
  });

  await step("a bad quota value shows the API's error inline, then a good one saves", async () => {
    const field = page.getByLabel("Runs per month");
    await field.fill("-5");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("The settings were not saved").waitFor();
    check((await field.getAttribute("aria-invalid")) === "true", "the field is not marked invalid");
    const describedBy = await field.getAttribute("aria-describedby");
    const message = await page.locator(`[id="${describedBy.split(" ")[0]}"]`).textContent();
    check(/0/.test(message), `the inline error is "${message}"`);
    await audit("tenant-quota-error");
    await field.fill("1000");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Saved.").waitFor();
    check((await field.getAttribute("aria-invalid")) === null, "the field is still marked invalid");
    const saved = await call("GET", `${CP}/admin/tenants/${tenant}`, { token: ADMIN }, 200);
    check(saved.quotas.runsPerMonth === 1000, `the quota is ${saved.quotas.runsPerMonth}`);
  });

  let finished;
  await step("a run started through the API appears in Runs, and its timeline opens", async () => {
    await call("PUT", `${CP}/v1/agents/summarize/script`, { token: key, body: SUMMARIZE, type: "application/javascript+module" }, 201);
    await call("PUT", `${DP}/v1/context/brief.md`, { token: key, body: "Stateless agents boot, think and die.", type: "text/markdown" }, 200);
    finished = await call("POST", `${DP}/v1/agents/summarize/runs`, { token: key, body: { input: { doc: "brief.md" } } }, 200);
    for (let i = 0; i < 2; i++) await call("POST", `${DP}/v1/agents/summarize/runs`, { token: key, body: { input: { doc: "brief.md" } } }, 200);
    check(finished.status === "succeeded", `the run ${finished.status}`);
    await goto(`/dashboard/runs?tenant=${tenant}`);
    await heading("Runs").waitFor();
    const link = page.getByRole("link", { name: finished.id });
    // The run index trails the runs by up to two seconds.
    for (let i = 0; i < 20 && !(await link.count()); i++) {
      await sleep(500);
      await page.getByRole("button", { name: "Refresh" }).or(page.getByText("No run matches")).first().waitFor();
      if (await page.getByRole("button", { name: "Refresh" }).count()) await page.getByRole("button", { name: "Refresh" }).click();
      else await page.reload();
    }
    check(new URL(page.url()).searchParams.get("tenant") === tenant, "the filter is not in the URL");
    await audit("runs");
    await link.click();
    await page.getByRole("heading", { level: 1, name: `Run ${finished.id}` }).waitFor();
    const timeline = page.getByRole("list", { name: "Events" });
    await timeline.getByText("run.completed").waitFor();
    await timeline.getByText("agent.event").waitFor();
    await page.getByLabel("Output").getByText("summary").waitFor();
    await audit("run", { phone: true });
  });

  await step("a live run's events arrive as they happen, and cancel ends it", async () => {
    await call("PUT", `${CP}/v1/agents/ticker/script`, { token: key, body: TICKER, type: "application/javascript+module" }, 201);
    const queued = await call("POST", `${DP}/v1/agents/ticker/runs`, { token: key, body: { input: null, mode: "async" } }, 202);
    // The filters live in the URL: this view can be bookmarked.
    await goto(`/dashboard/runs?tenant=${tenant}&status=running`);
    const link = page.getByRole("link", { name: queued.id });
    for (let i = 0; i < 30 && !(await link.count()); i++) {
      await sleep(500);
      await page.reload();
      await page.waitForLoadState("networkidle").catch(() => {});
    }
    await link.click();
    const live = page.getByRole("status").filter({ hasText: "events" });
    await live.getByText("Live").waitFor();
    const count = async () => Number(/(\d+) events/.exec(await live.textContent())?.[1] ?? 0);
    const first = await count();
    await sleep(1500);
    const later = await count();
    check(later >= first + 3, `events did not arrive live (${first} then ${later})`);
    await audit("run-live");
    await page.getByRole("button", { name: "Cancel run" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel this run?" });
    await dialog.getByRole("button", { name: "Cancel run" }).click();
    await page.locator(".title-row .badge", { hasText: "cancelled" }).waitFor();
    await page.getByRole("list", { name: "Events" }).getByText("run.failed").waitFor();
    const run = await call("GET", `${DP}/v1/runs/${queued.id}`, { token: key }, 200);
    check(run.status === "cancelled", `the run is ${run.status} after cancel`);
    const stopped = run.usage.wallMs;
    check(stopped < 25_000, `the run went on for ${stopped} ms`);
  });

  await step("the tenant page's usage chart, billing lines and agents (rollback) render", async () => {
    await goto(`/dashboard/tenants/${tenant}`);
    await page.getByRole("img", { name: /Runs and failures per day/ }).waitFor();
    await page.getByRole("img", { name: /Model tokens per day/ }).waitFor();
    await page.getByRole("button", { name: "Per hour, 2 days" }).click();
    await page.getByRole("img", { name: /Runs and failures per hour/ }).waitFor();
    await page.getByRole("region", { name: "Billing lines" }).getByText("Agent runs").waitFor();
    await call("PUT", `${CP}/v1/agents/summarize/script`, { token: key, body: `${SUMMARIZE}\n// v2`, type: "application/javascript+module" }, 201);
    await page.reload();
    await page.getByRole("button", { name: "Roll back to v1" }).click();
    await page.getByRole("dialog", { name: /Make v1 of summarize active/ }).getByRole("button", { name: "Roll back" }).click();
    await page.getByText("active: v1").waitFor();
    await audit("tenant", { phone: true });
  });

  await step("the CSV export downloads and is byte-identical to the API's", async () => {
    const period = new Date().toISOString().slice(0, 7);
    const api = async () => (await fetch(`${CP}/admin/billing/export?period=${period}&format=csv&tenant=${tenant}`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    // The ledger trails the runs by up to two seconds: wait until it stops changing.
    let before = await api();
    for (let i = 0; i < 20; i++) {
      await sleep(1000);
      const now = await api();
      if (now === before) break;
      before = now;
    }
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
    const file = join(artifacts, download.suggestedFilename());
    await download.saveAs(file);
    const downloaded = readFileSync(file, "utf8");
    check(downloaded.startsWith("BillingPeriodStart,"), "the download is not the CSV export");
    check(downloaded === (await api()), "the downloaded CSV differs from the API's");
    check(download.suggestedFilename() === `isoplane-${period}-${tenant}.csv`, `the file is named ${download.suggestedFilename()}`);
  });

  await step("the overview charts runs and failures, tenants by status and top spenders", async () => {
    await goto("/dashboard");
    await page.getByRole("img", { name: /Runs and failures per day, last 30 days/ }).waitFor();
    await page.getByRole("region", { name: "Top tenants by spend" }).getByText("Acme Research").waitFor();
    await audit("overview", { phone: true });
  });

  await step("tenants: search, suspend and activate, delete with confirmation", async () => {
    await call("POST", `${CP}/admin/tenants`, { token: ADMIN, body: { name: "Throwaway Ltd" } }, 201);
    await goto("/dashboard/tenants");
    await page.getByLabel("Name or id").fill("throwaway");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.waitForURL(/q=throwaway/);
    const row = page.getByRole("row", { name: /Throwaway Ltd/ });
    await row.waitFor();
    // Only the match is listed (the header row and its own).
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1, undefined, { timeout: 5000 }).catch(() => {});
    check((await page.getByRole("row").count()) === 2, "the search shows other tenants too");
    await row.getByRole("button", { name: /Suspend/ }).click();
    await row.getByText("suspended").waitFor();
    await row.getByRole("button", { name: /Activate/ }).click();
    await row.getByText("active").first().waitFor();
    await audit("tenants");
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog", { name: /Delete tenant Throwaway Ltd/ }).getByRole("button", { name: "Delete tenant" }).click();
    await page.getByText("No tenant matches this search.").waitFor();
  });

  await step("the audit log, filtered by tenant, shows the dashboard's changes", async () => {
    await goto(`/dashboard/audit?tenant=${tenant}`);
    const log = page.getByRole("region", { name: "Audit log" });
    for (const action of ["tenant.create", "key.create", "tenant.update", "run.cancel", "agent.rollback"]) await log.getByRole("cell", { name: action, exact: true }).first().waitFor();
    await audit("audit");
  });

  await step("sign out: the session ends, and /admin refuses the browser again", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    const status = await page.evaluate(async () => (await fetch("/admin/tenants")).status);
    check(status === 401, `/admin answers ${status} after sign-out`);
  });

  await step("no CSP violation or page error, and the admin token never in a URL", async () => {
    check(problems.length === 0, problems.join("\n"));
    check(urls.every((u) => !u.includes(ADMIN)), "a request URL carried the admin token");
  });
}

let code = await runMain("browser", main, () => rmSync(home, { recursive: true, force: true }));
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
if (failed) code = 1;
log(`screenshots in ${join("test-artifacts", "browser")}/`);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(code);
