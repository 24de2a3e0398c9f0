// Both Workers' OpenAPI documents, as the platform serves them (booted in Miniflare by
// bench/platform.mjs, like the CLI's tests), pass `redocly lint` with its recommended rules
// (redocly.yaml): no error and no warning, so a typed client can be generated from either.
// Offline: the ruleset is built into @redocly/cli and telemetry is off. `npm run test:openapi`.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startPlatform } from "../bench/platform.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const REDOCLY = join(ROOT, "node_modules", ".bin", "redocly");

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

let work: string;
let platform: { mf: { dispose(): Promise<void> }; urls: { dispatcher: string; controlPlane: string } };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "isoplane-openapi-"));
  platform = await startPlatform({ root: ROOT, workdir: join(work, "platform"), adminToken: randomBytes(24).toString("hex") });
}, 60_000);

afterAll(async () => {
  await platform?.mf.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

function lint(file: string): LintReport {
  const run = spawnSync(REDOCLY, ["lint", "--config", join(ROOT, "redocly.yaml"), "--format=json", file], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
  });
  if (run.error) throw run.error;
  try {
    return JSON.parse(run.stdout) as LintReport;
  } catch {
    throw new Error(`redocly lint printed no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
}

describe("redocly lint (recommended rules) passes both OpenAPI documents", () => {
  for (const [name, worker] of [["dispatcher", "dispatcher"], ["control plane", "controlPlane"]] as const) {
    test(`the ${name}'s /openapi.json: no errors, no warnings`, async () => {
      const res = await fetch(`${platform.urls[worker]}/openapi.json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths).length).toBeGreaterThan(5);
      const file = join(work, `${worker}.openapi.json`);
      await writeFile(file, JSON.stringify(doc, null, 2));
      const report = lint(file);
      const found = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
      expect(found).toEqual([]);
      expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    });
  }
});
