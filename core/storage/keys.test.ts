import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProblemError } from "../http/problem";
import { contextKey, MAX_STORED_KEY_BYTES, maxKeyBytes, parsePathKey, parseRelativeKey, resultKey, tenantKey } from "./keys";

const TENANT = "ten_01jd0000000000000000";
const OTHER = "ten_01jd0000000000000001";

/** Strings built from the characters that matter for escaping: dots, slashes, backslashes, encodings. */
const hostile = fc
  .array(fc.constantFrom(".", "..", "/", "\\", "%2e", "%2F", "%5C", "%00", "a", "b", "tenants", TENANT, OTHER, "context", "\u0000", "é", " "), {
    maxLength: 12,
  })
  .map((parts) => parts.join(""));
/** Keys around R2's limit: 250-520 characters of 1 to 4 UTF-8 bytes (about 600-1,300 bytes), a slash now and then. */
const longKey = fc
  .array(fc.oneof({ arbitrary: fc.constantFrom("a", "é", "中", "😀", "."), weight: 40 }, { arbitrary: fc.constant("/"), weight: 1 }), {
    minLength: 250,
    maxLength: 520,
    size: "max",
  })
  .map((chars) => chars.join(""));
const anyKey = fc.oneof(hostile, fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 64 }), longKey);
const RUN = "run_01jd0000000000000000";
const bytes = (s: string) => new TextEncoder().encode(s).byteLength;

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
        // Whatever the parser accepts fits R2's limit on the whole stored key.
        expect(bytes(key)).toBeLessThanOrEqual(MAX_STORED_KEY_BYTES);
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
        expect(bytes(contextKey(TENANT, segments))).toBeLessThanOrEqual(MAX_STORED_KEY_BYTES);
      }),
      { numRuns: 2000 },
    );
  });

  it("every key the parsers accept has a full stored key of at most 1,024 bytes, and every refusal of length names the area's real maximum", () => {
    fc.assert(
      fc.property(longKey, (input) => {
        for (const [area, parse, store] of [
          ["tenant", (k: string) => parseRelativeKey(k), (s: string[]) => tenantKey(TENANT, s)],
          ["context", (k: string) => parsePathKey(encodeURI(k)), (s: string[]) => contextKey(TENANT, s)],
          ["results", (k: string) => parseRelativeKey(k, "results"), (s: string[]) => resultKey(TENANT, RUN, s)],
        ] as const) {
          let segments: string[];
          try {
            segments = parse(input);
          } catch (err) {
            expect((err as ProblemError).slug).toBe("invalid-key");
            if (bytes(input) > maxKeyBytes(area)) expect((err as Error).message).toContain(`at most ${maxKeyBytes(area)} bytes`);
            continue;
          }
          expect(bytes(store(segments))).toBeLessThanOrEqual(MAX_STORED_KEY_BYTES);
          // The maximum is exact: a key the parser accepts that is as long as allowed fills R2's limit.
          if (bytes(input) === maxKeyBytes(area)) expect(bytes(store(segments))).toBe(MAX_STORED_KEY_BYTES);
        }
      }),
      { numRuns: 1000 },
    );
    expect([maxKeyBytes("tenant"), maxKeyBytes("context"), maxKeyBytes("results")]).toEqual([991, 983, 958]);
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
