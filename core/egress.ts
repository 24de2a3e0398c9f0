/**
 * The platform's egress rules for tenant code, as a pure function of the URL. Whatever a tenant's
 * allowlist says, these are always denied: non-http(s) schemes, the platform's own hosts,
 * loopback, link-local, private and other special-purpose addresses, and local-only names.
 */
export type EgressDecision = { ok: true } | { ok: false; reason: string };

/** An allowlist entry: `api.example.com`, `*.example.com` (subdomains only) or either with `:port`. */
export const ALLOW_ENTRY = /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(:\d{1,5})?$/;

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m ? m.slice(1).map(Number) : null;
}

/** Special-purpose IPv4 ranges (RFC 6890 and friends): never reachable from tenant code. */
function reservedV4(octets: number[]): boolean {
  const [a = 0, b = 0] = octets;
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) || // shared address space (CGNAT)
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) // benchmarking
  );
}

/** Any IPv6 literal that is loopback, unspecified, link-local, unique-local, multicast or maps IPv4. */
function reservedV6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::1" || h === "::") return true;
  if (/^fe[89ab]/.test(h) || /^f[cd]/.test(h) || /^ff/.test(h)) return true;
  // IPv4-mapped/translated forms could smuggle a private IPv4 address.
  if (h.startsWith("::ffff:") || h.startsWith("64:ff9b:") || h.startsWith("::")) return true;
  return false;
}

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/;

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

function matches(entry: string, host: string, port: string): boolean {
  const [pattern, entryPort] = entry.split(":") as [string, string | undefined];
  if ((entryPort ?? "") !== port) return false;
  return pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
}

export function decideEgress(rawUrl: string, allow: readonly string[], platformHosts: readonly string[]): EgressDecision {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: `scheme ${url.protocol} is not allowed` };
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL are not allowed" };
  // WHATWG URL parsing already canonicalises hosts: decimal, octal and hex IPv4 forms become dotted quads.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const v4 = ipv4(host);
  if ((v4 && reservedV4(v4)) || (host.startsWith("[") && reservedV6(host))) {
    return { ok: false, reason: "loopback, link-local and private addresses are never reachable" };
  }
  if (LOCAL_NAMES.test(host)) return { ok: false, reason: "local host names are never reachable" };
  if (platformHosts.some((p) => host === p || host.endsWith(`.${p}`))) return { ok: false, reason: "the platform's own hosts are never reachable" };
  const port = url.port === "" || url.port === defaultPort(url.protocol) ? "" : url.port;
  if (!allow.some((entry) => matches(entry, host, port))) {
    return { ok: false, reason: `${host}${port ? `:${port}` : ""} is not on the tenant's egress allowlist` };
  }
  return { ok: true };
}

/** The platform's own hosts from `PLATFORM_HOSTS` (comma-separated), lower-cased. */
export function platformHosts(env: { PLATFORM_HOSTS?: string }): string[] {
  return (env.PLATFORM_HOSTS ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
}
