// The CLI's config file and output helpers, without a platform.
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { configPath, loadSettings, writeConfig } from "../cli/config.mjs";
import { colorEnabled, formatBytes, Output } from "../cli/output.mjs";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "isoplane-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("config", () => {
  test("the file: $ISOPLANE_CONFIG, else $XDG_CONFIG_HOME/isoplane, else ~/.config/isoplane", () => {
    expect(configPath({ ISOPLANE_CONFIG: "/x/c.json", XDG_CONFIG_HOME: "/xdg" })).toBe("/x/c.json");
    expect(configPath({ XDG_CONFIG_HOME: "/xdg" })).toBe("/xdg/isoplane/config.json");
    expect(configPath({})).toBe(join(homedir(), ".config", "isoplane", "config.json"));
  });

  test("written 0600 (even over a looser file), read back under the environment's overrides", async () => {
    const path = join(dir, "nested", "config.json");
    await writeConfig(path, { dispatcher: "https://api.example.com/", controlPlane: "https://cp.example.com", key: "isk_file" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFile(path, JSON.stringify({ dispatcher: "https://api.example.com/", key: "isk_file" }), { mode: 0o644 });
    await writeConfig(path, { dispatcher: "https://api.example.com/", controlPlane: "https://cp.example.com", key: "isk_file" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const fromFile = await loadSettings({ ISOPLANE_CONFIG: path });
    expect(fromFile).toMatchObject({ dispatcher: "https://api.example.com", controlPlane: "https://cp.example.com", key: "isk_file" });
    const overridden = await loadSettings({
      ISOPLANE_CONFIG: path,
      ISOPLANE_URL: "http://127.0.0.1:9999/",
      ISOPLANE_CONTROL_PLANE_URL: "http://127.0.0.1:9998",
      ISOPLANE_API_KEY: "isk_env",
    });
    expect(overridden).toMatchObject({ dispatcher: "http://127.0.0.1:9999", controlPlane: "http://127.0.0.1:9998", key: "isk_env" });
    expect(overridden.sources).toEqual({ dispatcher: "ISOPLANE_URL", controlPlane: "ISOPLANE_CONTROL_PLANE_URL", key: "ISOPLANE_API_KEY" });
  });

  test("no file: the local defaults and no key; a broken file is a clear error", async () => {
    const none = await loadSettings({ ISOPLANE_CONFIG: join(dir, "absent.json") });
    expect(none).toMatchObject({ dispatcher: "http://127.0.0.1:8787", controlPlane: "http://127.0.0.1:8788", key: undefined });
    const broken = join(dir, "broken.json");
    await writeFile(broken, "{");
    await expect(loadSettings({ ISOPLANE_CONFIG: broken })).rejects.toThrow(`The config file ${broken} is not valid JSON`);
  });
});

describe("output", () => {
  test("colors: a TTY without NO_COLOR; FORCE_COLOR forces them", () => {
    expect(colorEnabled({ write() {}, isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ write() {}, isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled({ write() {}, isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ write() {}, isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
  });

  test("sizes read like wrangler's; errors are '✘ [ERROR] …' on stderr", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1597)).toBe("1.56 KiB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.00 MiB");
    let stdout = "";
    let stderr = "";
    const out = new Output({ stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {} });
    out.error("Not found: No agent named \"x\".", ["POST /v1/agents/x/runs → 404 not-found"]);
    expect(stdout).toBe("");
    expect(stderr).toBe('✘ [ERROR] Not found: No agent named "x".\n\n  POST /v1/agents/x/runs → 404 not-found\n\n');
  });
});
