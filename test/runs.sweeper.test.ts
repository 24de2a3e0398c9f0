import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sweepLostRuns } from "../dispatcher/src/runs/sweeper";
import { newTenant } from "./helpers";

describe("the lost-run sweeper", () => {
  it("closes runs left running past their budget, with their usage row; leaves live ones alone", async () => {
    const t = await newTenant();
    const now = Date.now();
    const insert = (id: string, createdAt: number) =>
      env.DB.prepare("INSERT INTO runs (id, tenant_id, agent, version, status, created_at) VALUES (?, ?, 'agent', 1, 'running', ?)").bind(id, t.id, createdAt).run();
    await insert("run_01jd00000000000000a1", now - 3600_000);
    await insert("run_01jd00000000000000a2", now - 1000);
    expect(await sweepLostRuns(env, now)).toBe(1);
    const lost = await env.DB.prepare("SELECT status, error, wall_ms FROM runs WHERE id = 'run_01jd00000000000000a1'").first<{ status: string; error: string; wall_ms: number }>();
    expect(lost).toMatchObject({ status: "failed", wall_ms: 3600_000 });
    expect(lost!.error).toMatch(/lost this run/);
    expect(await env.DB.prepare("SELECT status FROM usage WHERE run_id = 'run_01jd00000000000000a1'").first("status")).toBe("failed");
    expect(await env.DB.prepare("SELECT status FROM runs WHERE id = 'run_01jd00000000000000a2'").first("status")).toBe("running");
    expect(await sweepLostRuns(env, now)).toBe(0);
    await env.DB.prepare("DELETE FROM runs WHERE id = 'run_01jd00000000000000a2'").run();
  });
});
