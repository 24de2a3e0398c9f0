#!/usr/bin/env node
// Bundles an agent written in TypeScript into the single ES module the platform takes:
//   node tenant-template/build.mjs [entry.ts] [out.js]
// (defaults: the example summarize agent → tenant-template/dist/summarize.js)
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Bundles `entry` for the Workers runtime and returns the module's text. */
export async function bundleAgent(entry) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    write: false,
    // Minified: a tenant's scripts count against its `scriptBytes` quota, and zod's JSON Schema
    // generator (pulled in by tools) is most of an agent's size. Errors keep their names: the
    // SDK's error classes set `name` explicitly.
    minify: true,
    legalComments: "none",
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const entry = resolve(process.argv[2] ?? join(here, "examples", "summarize.ts"));
  const out = resolve(process.argv[3] ?? join(here, "dist", "summarize.js"));
  const { mkdir, writeFile } = await import("node:fs/promises");
  const code = await bundleAgent(entry);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, code);
  console.log(`built ${out} (${Buffer.byteLength(code)} bytes)`);
}
