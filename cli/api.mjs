// @ts-check
// The HTTP client: the tenant key on every call, and every non-2xx answer — problem+json
// (RFC 9457) or not — turned into an ApiError that prints as "<title>: <detail>".
import { PROBLEM_BASE } from "../core/contract.js";
import { CliError } from "./errors.mjs";
import { keyPrefix } from "./config.mjs";
import { VERSION } from "./version.mjs";

/** @typedef {import("./config.mjs").Settings} Settings */
/** @typedef {"dispatcher" | "controlPlane"} Plane */
/**
 * @typedef {{ type?: string, title?: string, status?: number, detail?: string, [field: string]: unknown }} Problem
 */

const PLANE_NAMES = { dispatcher: "dispatcher", controlPlane: "control plane" };
const PLANE_ENV = { dispatcher: "ISOPLANE_URL", controlPlane: "ISOPLANE_CONTROL_PLANE_URL" };
const PLANE_FLAG = { dispatcher: "--url", controlPlane: "--control-plane" };

/** An error answer from the platform. */
export class ApiError extends CliError {
  /**
   * @param {{ status: number, problem: Problem, method: string, url: string, retryAfter?: string | null }} details
   */
  constructor({ status, problem, method, url, retryAfter }) {
    const title = typeof problem.title === "string" && problem.title ? problem.title : `HTTP ${status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    const slug = typeof problem.type === "string" && problem.type.startsWith(PROBLEM_BASE) ? problem.type.slice(PROBLEM_BASE.length) : undefined;
    const notes = [];
    if (retryAfter) notes.push(`Retry after ${retryAfter} second${retryAfter === "1" ? "" : "s"}.`);
    if (status === 401) notes.push("Check the API key: run `isoplane login`, or set ISOPLANE_API_KEY.");
    notes.push(`${method} ${url} → ${status}${slug ? ` ${slug}` : ""}`);
    super(detail && detail !== title ? `${title}: ${detail}` : title, notes);
    this.name = "ApiError";
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<Problem>}
 */
async function readProblem(response) {
  const text = await response.text().catch(() => "");
  const type = response.headers.get("content-type") ?? "";
  if (/json/.test(type)) {
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === "object") return parsed;
    } catch {
      // not JSON after all: shown as text below
    }
  }
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return { title: `HTTP ${response.status} ${response.statusText}`.trim(), ...(snippet ? { detail: snippet } : {}) };
}

/** The cause of a failed fetch, as Node reports it ("connect ECONNREFUSED 127.0.0.1:8787"). @param {unknown} err */
function networkCause(err) {
  const cause = /** @type {{ cause?: { message?: string, code?: string } }} */ (err).cause;
  return cause?.message || cause?.code || (err instanceof Error ? err.message : String(err));
}

/**
 * @typedef {{
 *   query?: Record<string, string | number | undefined | null>,
 *   headers?: Record<string, string>,
 *   body?: BodyInit,
 *   json?: unknown,
 *   signal?: AbortSignal,
 * }} RequestOptions
 */

export class ApiClient {
  /**
   * @param {Pick<Settings, "dispatcher" | "controlPlane" | "key">} settings
   * @param {{ fetch?: typeof fetch }} [options]
   */
  constructor(settings, { fetch: fetchImpl = globalThis.fetch } = {}) {
    this.settings = settings;
    this.fetch = fetchImpl;
  }

  /** The key, or the error telling how to log in. */
  get key() {
    const key = this.settings.key;
    if (!key) {
      throw new CliError("You are not logged in", [
        "Run `isoplane login --key isk_…` (or pipe the key into `isoplane login`), or set ISOPLANE_API_KEY.",
      ]);
    }
    return key;
  }

  /**
   * One call; a non-2xx answer throws ApiError, an unreachable server CliError.
   * @param {Plane} plane
   * @param {string} method
   * @param {string} path starting with "/"
   * @param {RequestOptions} [options]
   * @returns {Promise<Response>}
   */
  async request(plane, method, path, options = {}) {
    const base = this.settings[plane];
    const url = new URL(base + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    /** @type {Record<string, string>} */
    const headers = {
      authorization: `Bearer ${this.key}`,
      "user-agent": `isoplane-cli/${VERSION} node/${process.versions.node}`,
      ...options.headers,
    };
    let body = options.body;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await this.fetch(url, { method, headers, body, signal: options.signal, redirect: "manual" });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new CliError(`Could not reach the ${PLANE_NAMES[plane]} at ${base}`, [
        networkCause(err),
        "Is the platform running? `npm start` serves it locally.",
        `Set its address with \`isoplane login ${PLANE_FLAG[plane]} <url>\` or ${PLANE_ENV[plane]}.`,
      ]);
    }
    if (response.ok) return response;
    const problem = await readProblem(response);
    throw new ApiError({
      status: response.status,
      problem,
      method,
      url: url.href,
      retryAfter: response.headers.get("retry-after"),
    });
  }

  /**
   * A call whose answer is JSON.
   * @param {Plane} plane @param {string} method @param {string} path @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async json(plane, method, path, options = {}) {
    const response = await this.request(plane, method, path, { ...options, headers: { accept: "application/json", ...options.headers } });
    if (response.status === 204) return null;
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new CliError(`The ${PLANE_NAMES[plane]} answered ${method} ${path} with something that is not JSON`, [text.slice(0, 200)]);
    }
  }

  /** For messages: which key is in use. */
  describeKey() {
    return this.settings.key ? keyPrefix(this.settings.key) : "(none)";
  }
}

/** Each segment of a context key or name percent-encoded, the slashes kept. @param {string} key */
export function encodeKey(key) {
  return key.split("/").map(encodeURIComponent).join("/");
}
