#!/usr/bin/env node
// The operator dashboard's build: Vite (Preact, uPlot) from control-plane/dashboard/ into one JSON
// module, dist/assets.json, that the control plane imports (control-plane/src/dashboard/assets.ts).
// The files so ship inside the Worker's own bundle, and are served the same way wherever the
// control plane runs: `npm start`, the workerd tests, the CLI tests and production.
//
// Who runs it: wrangler, as the control plane's custom build (`[build]` in control-plane/wrangler.toml,
// so every `wrangler deploy`, dry run included, and every bundle `npm start` and the benchmark make);
// test/global-setup.ts before the workerd tests. It rebuilds only when a source file, this script or
// package-lock.json changed, and replaces assets.json in one rename, so concurrent runs are safe.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const dist = join(here, "dist");
export const ASSETS_FILE = join(dist, "assets.json");
/** Where the app is served: Vite writes its asset URLs under it. */
export const BASE = "/dashboard/";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};
const TEXT = new Set([".html", ".js", ".css", ".svg", ".json"]);

/** Every file under `dir` (relative paths, sorted), skipping `skip` folders. */
function walk(dir, skip = new Set()) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, skip).map((f) => join(entry.name, f)));
    else out.push(entry.name);
  }
  return out.sort();
}

/** A hash of everything the build reads: the app's sources, this script and the locked dependencies. */
function sourceHash() {
  const hash = createHash("sha256");
  for (const file of walk(here, new Set(["dist", "node_modules"]))) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(here, file)));
  }
  hash.update(readFileSync(join(root, "package-lock.json")));
  return hash.digest("hex");
}

/**
 * The JavaScript the first page loads: the entry chunk and every chunk it imports statically
 * (lazy chunks load later), from Vite's manifest.
 */
function firstPageJs(manifest) {
  const entry = Object.values(manifest).find((c) => c.isEntry);
  if (!entry) throw new Error("dashboard build: no entry chunk in the manifest");
  const files = new Set();
  const visit = (chunk) => {
    if (files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const name of chunk.imports ?? []) visit(manifest[name]);
  };
  visit(entry);
  return [...files];
}

/** Reads the current assets.json, or null when there is none (or it cannot be read). */
export function readAssets() {
  try {
    return JSON.parse(readFileSync(ASSETS_FILE, "utf8"));
  } catch {
    return null;
  }
}

/**
 * Builds the dashboard unless assets.json was built from the same sources; returns its summary
 * (`firstPage.jsGzipBytes` is what the deploy prints and checks).
 */
export async function buildDashboard({ force = false } = {}) {
  const source = sourceHash();
  const current = readAssets();
  if (!force && current?.source === source) return { ...summary(current), built: false };

  const { build } = await import("vite");
  mkdirSync(dist, { recursive: true });
  const out = mkdtempSync(join(dist, ".build-"));
  try {
    await build({
      configFile: false,
      root: here,
      base: BASE,
      logLevel: "warn",
      clearScreen: false,
      oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
      build: {
        outDir: out,
        emptyOutDir: true,
        manifest: "manifest.json",
        // No inline script anywhere: the CSP allows scripts from 'self' only.
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        sourcemap: false,
        target: "es2022",
        reportCompressedSize: false,
      },
    });
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const firstPage = firstPageJs(manifest);
    const files = {};
    let jsBytes = 0;
    let jsGzipBytes = 0;
    for (const file of walk(out)) {
      if (file === "manifest.json") continue;
      const bytes = readFileSync(join(out, file));
      const ext = extname(file);
      if (!TYPES[ext]) throw new Error(`dashboard build: no content type for ${file}`);
      files[file] = {
        type: TYPES[ext],
        encoding: TEXT.has(ext) ? "utf8" : "base64",
        body: TEXT.has(ext) ? bytes.toString("utf8") : bytes.toString("base64"),
        etag: `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 22)}"`,
      };
      if (firstPage.includes(file)) {
        jsBytes += bytes.byteLength;
        jsGzipBytes += gzipSync(bytes, { level: 9 }).byteLength;
      }
    }
    if (!files["index.html"]) throw new Error("dashboard build: no index.html");
    const assets = { source, builtAt: new Date().toISOString(), firstPage: { files: firstPage, jsBytes, jsGzipBytes }, files };
    // One rename: a reader sees the old file or the new one, never half of either.
    const tmp = join(dist, `.assets-${process.pid}-${Date.now()}.json`);
    writeFileSync(tmp, JSON.stringify(assets));
    renameSync(tmp, ASSETS_FILE);
    return { ...summary(assets), built: true };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function summary(assets) {
  return { file: relative(root, ASSETS_FILE), files: Object.keys(assets.files).length, firstPage: assets.firstPage };
}

export const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  const result = await buildDashboard({ force: process.argv.includes("--force") });
  const what = result.built ? `built in ${((Date.now() - started) / 1000).toFixed(1)} s` : "up to date";
  console.log(`dashboard: ${what}, ${result.files} files, first page ${kib(result.firstPage.jsGzipBytes)} of JavaScript gzipped (${result.file})`);
}

