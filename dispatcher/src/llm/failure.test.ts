import { describe, expect, it } from "vitest";
import { failureMessage } from "./failure";

describe("failureMessage", () => {
  const secret = "sk-platform-secret-1234567890";
  it("cuts a credential out however an echo spells it: as sent, in another case, URL-encoded or base64", () => {
    const echoes = [secret, secret.toUpperCase(), encodeURIComponent(`${secret}/x`), btoa(secret), btoa(`Bearer ${secret}`)];
    for (const echo of echoes) {
      const message = failureMessage("evil", 503, `you sent ${echo}`, [secret]);
      expect(message, echo).toContain("[redacted]");
      expect(message.toLowerCase()).not.toContain(secret.toLowerCase());
    }
    expect(failureMessage("evil", 503, "plain words", [secret])).toBe("evil: 503 plain words");
  });
});
