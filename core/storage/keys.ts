import { ProblemError } from "../http/problem";

/**
 * R2 keys are assembled from validated segments, never by normalising what a caller sent:
 * a key that would need normalising is refused instead, so no input can leave its prefix.
 */
export const MAX_SEGMENT_BYTES = 256;
/** R2's limit, which counts the whole stored key — the platform's prefix included. */
export const MAX_STORED_KEY_BYTES = 1024;
const encoder = new TextEncoder();

/** `tenants/` + a tenant id (`ten_` + 20 characters: every id has this length) + `/`. */
const TENANT_PREFIX_BYTES = "tenants/".length + 24 + 1;
const RUN_ID_BYTES = 24;

/**
 * Where a tenant's keys live, and so how much of R2's 1,024 bytes is left for the part the tenant
 * chooses: `tenant` is what `env.STORAGE` takes (relative to `tenants/<tenantId>/`), `context` what
 * `/v1/context/{key}` takes, `results` a name under a run's results.
 */
export const KEY_AREAS = {
  tenant: { what: "STORAGE keys", stored: "tenants/<tenantId>/<key>", prefixBytes: TENANT_PREFIX_BYTES },
  context: { what: "context keys", stored: "tenants/<tenantId>/context/<key>", prefixBytes: TENANT_PREFIX_BYTES + "context/".length },
  results: { what: "result names", stored: "tenants/<tenantId>/results/<runId>/<name>", prefixBytes: TENANT_PREFIX_BYTES + "results/".length + RUN_ID_BYTES + 1 },
} as const;
export type KeyArea = keyof typeof KEY_AREAS;

/** The longest key (UTF-8 bytes) a tenant may use in `area`: R2's limit less the platform's prefix. */
export const maxKeyBytes = (area: KeyArea): number => MAX_STORED_KEY_BYTES - KEY_AREAS[area].prefixBytes;

/** The precise refusal of a key (or prefix) too long for its area. */
export function keyTooLong(area: KeyArea, bytes: number, noun = "key"): ProblemError {
  const { what, stored } = KEY_AREAS[area];
  const hint = area === "tenant" ? ` (so at most ${maxKeyBytes("context")} bytes after context/ and ${maxKeyBytes("results")} after results/<runId>/)` : "";
  return new ProblemError(
    "invalid-key",
    `The ${noun} is ${bytes} bytes; ${what} may be at most ${maxKeyBytes(area)} bytes${hint}: R2 allows ${MAX_STORED_KEY_BYTES} bytes for the whole stored key, ${stored}.`,
    { extra: { maxKeyBytes: maxKeyBytes(area) } },
  );
}

/** Why a segment is refused, or null when it is fine. */
export function segmentProblem(segment: string): string | null {
  if (segment === "") return "empty segment";
  if (segment === "." || segment === "..") return `segment "${segment}"`;
  if (encoder.encode(segment).byteLength > MAX_SEGMENT_BYTES) return `segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  // Backslashes and control characters have no business in a key and confuse other tools.
  if (/[\\\u0000-\u001f\u007f]/.test(segment)) return "backslash or control character";
  if (segment.includes("/")) return "slash inside a segment";
  return null;
}

/**
 * Splits a relative key (`a/b/c.txt`) into checked segments; throws a 400 `invalid-key` problem.
 * `area` says what the key is relative to (by default the tenant's prefix, as `env.STORAGE` takes it).
 */
export function parseRelativeKey(key: string, area: KeyArea = "tenant"): string[] {
  return checkSegments(key.split("/"), area);
}

/**
 * Splits a URL path tail into decoded segments. Each segment is decoded on its own, so an
 * encoded slash (`%2F`) or dot-segment (`%2E%2E`) is seen — and refused — as what it is.
 */
export function parsePathKey(rawPathTail: string, area: KeyArea = "context"): string[] {
  return checkSegments(
    rawPathTail.split("/").map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new ProblemError("invalid-key", "The key is not valid percent-encoded UTF-8.");
      }
    }),
    area,
  );
}

function checkSegments(segments: string[], area: KeyArea): string[] {
  const joined = segments.join("/");
  const bytes = encoder.encode(joined).byteLength;
  if (bytes > maxKeyBytes(area)) throw keyTooLong(area, bytes);
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem) throw new ProblemError("invalid-key", `The key "${truncate(joined)}" has an invalid ${problem}.`);
  }
  return segments;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** `tenants/<tenantId>/` — the only R2 prefix a tenant's requests and scripts can touch. */
export function tenantPrefix(tenantId: string): string {
  if (!/^ten_[0-9a-z]{20}$/.test(tenantId)) throw new Error(`not a tenant id: ${tenantId}`);
  return `tenants/${tenantId}/`;
}

/**
 * A key under the tenant's prefix, from already-validated segments. Whatever built the segments,
 * a stored key over R2's limit is refused here too, so R2 never sees one.
 */
export function tenantKey(tenantId: string, segments: readonly string[]): string {
  const key = tenantPrefix(tenantId) + segments.join("/");
  const bytes = encoder.encode(key).byteLength;
  if (bytes > MAX_STORED_KEY_BYTES) throw keyTooLong("tenant", bytes - TENANT_PREFIX_BYTES);
  return key;
}

export function contextKey(tenantId: string, segments: readonly string[]): string {
  return tenantKey(tenantId, ["context", ...segments]);
}

export function resultKey(tenantId: string, runId: string, segments: readonly string[]): string {
  return tenantKey(tenantId, ["results", runId, ...segments]);
}
