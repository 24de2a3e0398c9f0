import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideEgress } from "./egress";

describe("egress policy rules", () => {
  const allow = ["api.example.com", "*.example.org", "hooks.example.net:8443"];
  it("denies every private, loopback, link-local and reserved IPv4 address, whatever the allowlist", () => {
    const privateV4 = fc.oneof(
      fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(0), fc.nat(255), fc.nat(255), fc.nat(255)),
    );
    fc.assert(
      fc.property(privateV4, fc.constantFrom("http", "https"), (ip, scheme) => {
        const host = ip.join(".");
        expect(decideEgress(`${scheme}://${host}/`, [...allow, host], []).ok).toBe(false);
        // The same address written as one decimal number is canonicalised and denied too.
        const n = ((ip[0]! << 24) >>> 0) + (ip[1]! << 16) + (ip[2]! << 8) + ip[3]!;
        expect(decideEgress(`${scheme}://${n}/`, [...allow, host], []).ok).toBe(false);
      }),
    );
  });

  it("matches the allowlist exactly: subdomain wildcards, ports, no apex via wildcard", () => {
    expect(decideEgress("https://api.example.com/x", allow, []).ok).toBe(true);
    expect(decideEgress("https://API.EXAMPLE.COM./x", allow, []).ok).toBe(true);
    expect(decideEgress("https://evil-api.example.com/", allow, []).ok).toBe(false);
    expect(decideEgress("https://api.example.com.evil.io/", allow, []).ok).toBe(false);
    expect(decideEgress("https://a.b.example.org/", allow, []).ok).toBe(true);
    expect(decideEgress("https://example.org/", allow, []).ok).toBe(false);
    expect(decideEgress("https://api.example.com:8443/", allow, []).ok).toBe(false);
    expect(decideEgress("https://hooks.example.net:8443/", allow, []).ok).toBe(true);
    expect(decideEgress("https://hooks.example.net/", allow, []).ok).toBe(false);
    expect(decideEgress("https://user:pw@api.example.com/", allow, []).ok).toBe(false);
    expect(decideEgress("file:///etc/passwd", allow, []).ok).toBe(false);
    expect(decideEgress("https://api.example.com/", allow, ["example.com"]).ok).toBe(false);
    expect(decideEgress("http://[fe80::1]/", ["[fe80::1]"], []).ok).toBe(false);
    expect(decideEgress("http://[::ffff:10.0.0.1]/", allow, []).ok).toBe(false);
    expect(decideEgress("http://printer.local/", ["printer.local"], []).ok).toBe(false);
  });
});
