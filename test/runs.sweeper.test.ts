import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sweepLostRuns } from "../dispatcher/src/runs/sweeper";
import { newTenant } from "./helpers";

describe("the lost-run sweeper", () => {
  it("closes runs left running past their budget, with their usage row; leaves live ones alone", async () => {
    const t = await newTenant();
    const now = Date.now();
    const insert = (id: string, createdAt: number) =>
      env.DB.prepare("INSERT INTO runs (id, tenant_id, agent, version, status, created_at, started_at) VALUES (?, ?, 'agent', 1, 'running', ?, ?)").bind(id, t.id, createdAt, createdAt).run();
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

  it("closes runs queued too long, and gives cancelled runs whose executor vanished their usage row", async () => {
    const t = await newTenant();
    const now = Date.now();
    await env.DB.prepare("INSERT INTO runs (id, tenant_id, agent, version, status, created_at) VALUES ('run_01jd00000000000000b1', ?, 'agent', 1, 'queued', ?)").bind(t.id, now - 2 * 3600_000).run();
    await env.DB.prepare("INSERT INTO runs (id, tenant_id, agent, version, status, created_at, started_at, finished_at) VALUES ('run_01jd00000000000000b2', ?, 'agent', 1, 'cancelled', ?, ?, ?)")
      .bind(t.id, now - 3600_000, now - 3600_000, now - 3599_000)
      .run();
    expect(await sweepLostRuns(env, now)).toBe(2);
    expect(await env.DB.prepare("SELECT status FROM runs WHERE id = 'run_01jd00000000000000b1'").first("status")).toBe("failed");
    const rows = await env.DB.prepare("SELECT run_id, status, wall_ms FROM usage WHERE tenant_id = ? ORDER BY run_id").bind(t.id).all();
    expect(rows.results).toEqual([
      { run_id: "run_01jd00000000000000b1", status: "failed", wall_ms: 0 },
      { run_id: "run_01jd00000000000000b2", status: "cancelled", wall_ms: 1000 },
    ]);
    expect(await sweepLostRuns(env, now)).toBe(0);
  });
});
