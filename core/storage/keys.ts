import { ProblemError } from "../http/problem";

/**
 * R2 keys are assembled from validated segments, never by normalising what a caller sent:
 * a key that would need normalising is refused instead, so no input can leave its prefix.
 */
export const MAX_SEGMENT_BYTES = 256;
export const MAX_KEY_BYTES = 1024;
const encoder = new TextEncoder();

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

/** Splits a relative key (`a/b/c.txt`) into checked segments; throws a 400 `invalid-key` problem. */
export function parseRelativeKey(key: string): string[] {
  return checkSegments(key.split("/"));
}

/**
 * Splits a URL path tail into decoded segments. Each segment is decoded on its own, so an
 * encoded slash (`%2F`) or dot-segment (`%2E%2E`) is seen — and refused — as what it is.
 */
export function parsePathKey(rawPathTail: string): string[] {
  return checkSegments(
    rawPathTail.split("/").map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new ProblemError("invalid-key", "The key is not valid percent-encoded UTF-8.");
      }
    }),
  );
}

function checkSegments(segments: string[]): string[] {
  const joined = segments.join("/");
  if (encoder.encode(joined).byteLength > MAX_KEY_BYTES) {
    throw new ProblemError("invalid-key", `The key is longer than ${MAX_KEY_BYTES} bytes.`);
  }
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

/** A key under the tenant's prefix, from already-validated segments. */
export function tenantKey(tenantId: string, segments: readonly string[]): string {
  return tenantPrefix(tenantId) + segments.join("/");
}

export function contextKey(tenantId: string, segments: readonly string[]): string {
  return tenantKey(tenantId, ["context", ...segments]);
}

export function resultKey(tenantId: string, runId: string, segments: readonly string[]): string {
  return tenantKey(tenantId, ["results", runId, ...segments]);
}
