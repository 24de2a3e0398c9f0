import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { API_KEY_LENGTH, API_KEY_PREFIX, bearerToken, crc32, generateApiKey, isWellFormedApiKey } from "./api-key";

// An independent model of the key format, written from its definition rather than from the code:
// `isk_` + 30 base62 characters + the CRC32 (IEEE, reflected, computed bit by bit here) of those 30,
// as 6 base62 digits, most significant first.
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY = 30;
const CHECKSUM = 6;

function modelCrc32(text: string): number {
  let crc = ~0 >>> 0;
  for (const byte of new TextEncoder().encode(text)) {
    crc = (crc ^ byte) >>> 0;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? ((crc >>> 1) ^ 0xedb88320) >>> 0 : crc >>> 1;
  }
  return ~crc >>> 0;
}

function modelChecksum(body: string): string {
  const value = modelCrc32(body);
  let out = "";
  for (let power = CHECKSUM - 1; power >= 0; power--) out += BASE62[Math.floor(value / 62 ** power) % 62];
  return out;
}

/** The model's verdict on any string: the shape, every character, and the checksum. */
function modelWellFormed(s: string): boolean {
  if (s.length !== 4 + BODY + CHECKSUM || !s.startsWith("isk_")) return false;
  const rest = s.slice(4);
  if (![...rest].every((c) => BASE62.includes(c))) return false;
  return rest.slice(BODY) === modelChecksum(rest.slice(0, BODY));
}

const base62Char = fc.constantFrom(...BASE62);
const body = fc.string({ unit: base62Char, minLength: BODY, maxLength: BODY });
/** Well-formed keys, built from the format (not by generateApiKey). */
const wellFormed = body.map((b) => `isk_${b}${modelChecksum(b)}`);

/** Characters a mutation may put in: base62 ones (which only the checksum can catch) and others. */
const anyChar = fc.oneof(base62Char, fc.constantFrom("_", "-", "+", "/", "=", " ", "\t", "\n", "\0", "é", "😀", "０"));

/** One targeted edit of a well-formed key; the model decides whether the result is still one. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("replace" as const), pos: fc.nat(), ch: anyChar }),
  fc.record({ kind: fc.constant("insert" as const), pos: fc.nat(), ch: anyChar }),
  fc.record({ kind: fc.constant("delete" as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant("prefix" as const), to: fc.constantFrom("", "ISK_", "Isk_", "isk-", "sk_", "isk", "isk__", "xsk_", "isk_isk_") }),
  fc.record({ kind: fc.constant("wrap" as const), before: fc.constantFrom("", " ", "\n", "Bearer "), after: fc.constantFrom("", " ", "\n", "\r\n", "x") }),
  fc.record({ kind: fc.constant("checksumOf" as const), other: body }),
  fc.record({ kind: fc.constant("truncate" as const), pos: fc.nat() }),
);

function mutate(key: string, m: typeof mutation extends fc.Arbitrary<infer M> ? M : never): string {
  switch (m.kind) {
    case "replace": {
      const p = m.pos % key.length;
      return key.slice(0, p) + m.ch + key.slice(p + 1);
    }
    case "insert": {
      const p = m.pos % (key.length + 1);
      return key.slice(0, p) + m.ch + key.slice(p);
    }
    case "delete": {
      const p = m.pos % key.length;
      return key.slice(0, p) + key.slice(p + 1);
    }
    case "swap": {
      const p = m.pos % (key.length - 1);
      return key.slice(0, p) + key[p + 1] + key[p] + key.slice(p + 2);
    }
    case "prefix":
      return m.to + key.slice(4);
    case "wrap":
      return m.before + key + m.after;
    case "checksumOf":
      // A checksum that is well-formed, but another body's.
      return key.slice(0, 4 + BODY) + modelChecksum(m.other);
    case "truncate":
      return key.slice(0, m.pos % key.length);
  }
}

describe("API keys", () => {
  it("the model agrees with the minted keys and the standard CRC32 check value", () => {
    expect(modelCrc32("123456789")).toBe(0xcbf43926);
    expect(modelChecksum("0".repeat(BODY))).toHaveLength(CHECKSUM);
    expect(API_KEY_PREFIX).toBe("isk_");
    expect(API_KEY_LENGTH).toBe(4 + BODY + CHECKSUM);
  });

  it("are well-formed, prefixed and unique", () => {
    const keys = new Set(Array.from({ length: 500 }, generateApiKey));
    expect(keys.size).toBe(500);
    for (const key of keys) {
      expect(key.startsWith(API_KEY_PREFIX)).toBe(true);
      expect(key).toHaveLength(API_KEY_LENGTH);
      // Minted keys have the documented format, by the independent model too.
      expect(modelWellFormed(key)).toBe(true);
      expect(isWellFormedApiKey(key)).toBe(true);
    }
  });

  it("accepts every key of the format, whatever its random part", () => {
    fc.assert(
      fc.property(wellFormed, (key) => {
        expect(isWellFormedApiKey(key)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects exactly the edits of a well-formed key that leave the format (model-based)", () => {
    let rejected = 0;
    let accepted = 0;
    fc.assert(
      fc.property(wellFormed, mutation, (key, m) => {
        const candidate = mutate(key, m);
        const expected = modelWellFormed(candidate);
        expect(isWellFormedApiKey(candidate), JSON.stringify({ key, m, candidate })).toBe(expected);
        // Every edit that changes the key breaks the format: the checksum catches any single-character
        // change and any adjacent swap of the 30 random characters (a burst shorter than 32 bits).
        if (candidate !== key) expect(expected, JSON.stringify({ key, m, candidate })).toBe(false);
        if (expected) accepted++;
        else rejected++;
      }),
      { numRuns: 3000 },
    );
    // The property saw both verdicts: it really does tell valid from invalid.
    expect(rejected).toBeGreaterThan(2000);
    expect(accepted).toBeGreaterThan(0);
  });

  it("the checksum catches every single-character change of a minted key", () => {
    fc.assert(
      fc.property(fc.integer({ min: API_KEY_PREFIX.length, max: API_KEY_LENGTH - 1 }), base62Char, (pos, ch) => {
        const key = generateApiKey();
        fc.pre(key[pos] !== ch);
        const mutated = key.slice(0, pos) + ch + key.slice(pos + 1);
        expect(isWellFormedApiKey(mutated)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("arbitrary strings, and strings of the right shape, are judged as the model judges them", () => {
    const shaped = fc.string({ unit: base62Char, minLength: BODY + CHECKSUM, maxLength: BODY + CHECKSUM }).map((s) => `isk_${s}`);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), shaped), (s) => {
        expect(isWellFormedApiKey(s)).toBe(modelWellFormed(s));
      }),
      { numRuns: 1000 },
    );
  });

  it("crc32 matches the standard check value and the bitwise model", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    fc.assert(fc.property(body, (b) => crc32(b) === modelCrc32(b)));
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
