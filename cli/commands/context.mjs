// @ts-check
import { writeFile } from "node:fs/promises";
import { extname, relative, resolve } from "node:path";
import { ApiClient, encodeKey } from "../api.mjs";
import { loadSettings } from "../config.mjs";
import { UsageError } from "../errors.mjs";
import { readInput } from "../io.mjs";
import { formatBytes, table } from "../output.mjs";

/** @typedef {import("../command.mjs").CommandContext} CommandContext */
/** @typedef {import("../command.mjs").Command} Command */

/** Content types by extension, for `put` without --content-type. */
const CONTENT_TYPES = {
  ".md": "text/markdown; charset=utf-8",
  ".markdown": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
  ".ndjson": "application/x-ndjson",
  ".csv": "text/csv; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".xml": "application/xml",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
};

/** @param {string} name */
function guessContentType(name) {
  return CONTENT_TYPES[/** @type {keyof typeof CONTENT_TYPES} */ (extname(name).toLowerCase())] ?? "application/octet-stream";
}

/** @param {string[]} positionals @param {number} count @param {string} command @param {string} what */
function expect(positionals, count, command, what) {
  if (positionals.length < count) throw new UsageError(`Missing ${what}`, command);
  if (positionals.length > count) throw new UsageError(`Unexpected argument: ${positionals[count]}`, command);
}

/** @param {CommandContext} ctx */
async function client(ctx) {
  return new ApiClient(await loadSettings(ctx.env));
}

/** @type {Command} */
const put = {
  name: "put",
  summary: "Store a context document",
  usage: `isoplane context put <key> <file|-> [--content-type <type>]

Stores <file> (or stdin, for "-") at the tenant's context/<key>; agents read it with
ctx.context.get("<key>").

OPTIONS
  --content-type <type>  [default: from the file's extension, else application/octet-stream]`,
  options: { "content-type": { type: "string" } },
  /** @param {CommandContext} ctx */
  async run(ctx) {
    expect(ctx.positionals, 2, "context put", "the key and the file (or - for stdin)");
    const [key, file] = /** @type {[string, string]} */ (ctx.positionals);
    const body = await readInput(file, ctx.stdin);
    const contentType = typeof ctx.values["content-type"] === "string" ? ctx.values["content-type"] : guessContentType(file === "-" ? key : file);
    /** @type {{ key: string, size: number, etag: string }} */
    const stored = await (await client(ctx)).json("dispatcher", "PUT", `/v1/context/${encodeKey(key)}`, {
      headers: { "content-type": contentType },
      body: new Uint8Array(body),
      signal: ctx.signal,
    });
    ctx.out.success(`Uploaded context ${stored.key} (${formatBytes(stored.size)}, ${contentType})`);
    return 0;
  },
};

/** @type {Command} */
const get = {
  name: "get",
  summary: "Print a context document (or save it with -o)",
  usage: `isoplane context get <key> [-o <file>]

Writes the document's bytes to stdout, or to <file> with -o.

OPTIONS
  -o, --output <file>  Save to <file> instead of printing`,
  options: { output: { type: "string", short: "o" } },
  /** @param {CommandContext} ctx */
  async run(ctx) {
    expect(ctx.positionals, 1, "context get", "the key");
    const [key] = /** @type {[string]} */ (ctx.positionals);
    const response = await (await client(ctx)).request("dispatcher", "GET", `/v1/context/${encodeKey(key)}`, { signal: ctx.signal });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (typeof ctx.values.output === "string" && ctx.values.output !== "-") {
      const path = resolve(ctx.cwd, ctx.values.output);
      await writeFile(path, bytes);
      ctx.out.success(`Downloaded context ${key} to ${relative(ctx.cwd, path) || path} (${formatBytes(bytes.length)})`);
    } else {
      ctx.out.writeBytes(bytes);
    }
    return 0;
  },
};

/** @type {Command} */
const ls = {
  name: "ls",
  summary: "List context documents",
  usage: `isoplane context ls [prefix] [--json]

Lists the tenant's context documents, all pages, optionally only those under [prefix].

OPTIONS
  --json  One JSON object a line: {"key","size","uploadedAt"}`,
  options: { json: { type: "boolean" } },
  /** @param {CommandContext} ctx */
  async run(ctx) {
    if (ctx.positionals.length > 1) throw new UsageError(`Unexpected argument: ${ctx.positionals[1]}`, "context ls");
    const prefix = ctx.positionals[0] ?? "";
    const api = await client(ctx);
    /** @type {{ key: string, size: number, uploadedAt: string }[]} */
    const objects = [];
    /** @type {string | null} */
    let cursor = null;
    do {
      /** @type {{ objects: typeof objects, cursor: string | null }} */
      const page = await api.json("dispatcher", "GET", "/v1/context", { query: { prefix, cursor, limit: 1000 }, signal: ctx.signal });
      objects.push(...page.objects);
      cursor = page.cursor;
    } while (cursor);
    const { out } = ctx;
    if (ctx.values.json) {
      for (const o of objects) out.log(JSON.stringify(o));
      return 0;
    }
    if (objects.length === 0) {
      out.progress(prefix ? `No context documents under "${prefix}".` : "No context documents.");
      return 0;
    }
    out.log(table(["KEY", "SIZE", "UPLOADED"], objects.map((o) => [o.key, formatBytes(o.size), o.uploadedAt]), out.c));
    return 0;
  },
};

/** @type {Command} */
const rm = {
  name: "rm",
  summary: "Delete a context document",
  usage: `isoplane context rm <key>`,
  options: {},
  /** @param {CommandContext} ctx */
  async run(ctx) {
    expect(ctx.positionals, 1, "context rm", "the key");
    const [key] = /** @type {[string]} */ (ctx.positionals);
    await (await client(ctx)).request("dispatcher", "DELETE", `/v1/context/${encodeKey(key)}`, { signal: ctx.signal });
    ctx.out.success(`Deleted context ${key}`);
    return 0;
  },
};

/** @type {import("../command.mjs").CommandGroup} */
export const command = {
  name: "context",
  summary: "Manage the tenant's context documents (put, get, ls, rm)",
  usage: `isoplane context <command>

COMMANDS
  isoplane context put <key> <file|->   ${put.summary}
  isoplane context get <key> [-o file]  ${get.summary}
  isoplane context ls [prefix]          ${ls.summary}
  isoplane context rm <key>             ${rm.summary}`,
  subcommands: { put, get, ls, list: ls, rm, delete: rm },
};
