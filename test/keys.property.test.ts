import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProblemError } from "../core/http/problem";
import { contextKey, parsePathKey, parseRelativeKey, tenantKey } from "../core/storage/keys";

const TENANT = "ten_01jd0000000000000000";
const OTHER = "ten_01jd0000000000000001";

/** Strings built from the characters that matter for escaping: dots, slashes, backslashes, encodings. */
const hostile = fc
  .array(fc.constantFrom(".", "..", "/", "\\", "%2e", "%2F", "%5C", "%00", "a", "b", "tenants", TENANT, OTHER, "context", "\u0000", "é", " "), {
    maxLength: 12,
  })
  .map((parts) => parts.join(""));
const anyKey = fc.oneof(hostile, fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 64 }));

/** The key after prefix-stripping, split into segments, with no segment that could climb out. */
function assertContained(key: string, prefix: string) {
  expect(key.startsWith(prefix)).toBe(true);
  for (const segment of key.slice(prefix.length).split("/")) {
    expect(segment).not.toBe("");
    expect(segment).not.toBe(".");
    expect(segment).not.toBe("..");
    expect(segment).not.toContain("\\");
  }
}

describe("no key input escapes the tenant's prefix", () => {
  it("relative keys (env.STORAGE): either refused with invalid-key or kept under tenants/<id>/", () => {
    fc.assert(
      fc.property(anyKey, (input) => {
        let segments: string[];
        try {
          segments = parseRelativeKey(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ProblemError);
          expect((err as ProblemError).slug).toBe("invalid-key");
          return;
        }
        const key = tenantKey(TENANT, segments);
        assertContained(key, `tenants/${TENANT}/`);
        // Nothing was normalised: the stored key is exactly the prefix plus what was sent.
        expect(key).toBe(`tenants/${TENANT}/${input}`);
      }),
      { numRuns: 2000 },
    );
  });

  it("URL path keys (/v1/context/…): decoded per segment, refused or kept under context/", () => {
    fc.assert(
      fc.property(anyKey, (input) => {
        let segments: string[];
        try {
          segments = parsePathKey(input);
        } catch (err) {
          expect((err as ProblemError).slug).toBe("invalid-key");
          return;
        }
        assertContained(contextKey(TENANT, segments), `tenants/${TENANT}/context/`);
        expect(segments).toHaveLength(input.split("/").length);
      }),
      { numRuns: 2000 },
    );
  });

  it("tenant ids must have the id shape, so no id can smuggle a path", () => {
    fc.assert(
      fc.property(fc.string(), (id) => {
        fc.pre(!/^ten_[0-9a-z]{20}$/.test(id));
        expect(() => tenantKey(id, ["a"])).toThrow();
      }),
    );
  });
});
