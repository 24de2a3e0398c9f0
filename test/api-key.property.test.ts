import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { API_KEY_LENGTH, API_KEY_PREFIX, bearerToken, crc32, generateApiKey, isWellFormedApiKey } from "../core/auth/api-key";

describe("API keys", () => {
  it("are well-formed, prefixed and unique", () => {
    const keys = new Set(Array.from({ length: 500 }, generateApiKey));
    expect(keys.size).toBe(500);
    for (const key of keys) {
      expect(key.startsWith(API_KEY_PREFIX)).toBe(true);
      expect(key).toHaveLength(API_KEY_LENGTH);
      expect(isWellFormedApiKey(key)).toBe(true);
    }
  });

  it("the checksum catches every single-character change", () => {
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    fc.assert(
      fc.property(fc.integer({ min: API_KEY_PREFIX.length, max: API_KEY_LENGTH - 1 }), fc.constantFrom(...alphabet), (pos, ch) => {
        const key = generateApiKey();
        fc.pre(key[pos] !== ch);
        const mutated = key.slice(0, pos) + ch + key.slice(pos + 1);
        expect(isWellFormedApiKey(mutated)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("arbitrary strings are almost never well-formed", () => {
    fc.assert(fc.property(fc.string(), (s) => !isWellFormedApiKey(s)));
  });

  it("crc32 matches the standard check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
  });

  it("bearer tokens are parsed strictly", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Bearer")).toBeNull();
    expect(bearerToken("Bearer a b")).toBeNull();
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken(null)).toBeNull();
  });
});
