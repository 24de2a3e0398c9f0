/**
 * The platform's one structured logger: a JSON line per event, on stderr for errors and warnings
 * (Workers Logs and `wrangler tail` index the fields). Callers name the event; fields say what it
 * was about. Never pass secrets or request bodies.
 */
export function logEvent(level: "error" | "warn" | "info", event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * An error (or a message) as one line of at most `max` characters, never a stack: its name unless
 * plain (`named: false` leaves it out), and the message's lines that are not stack frames, joined.
 */
export function errorLine(err: unknown, { max = 500, named = true }: { max?: number; named?: boolean } = {}): string {
  const name = named && err instanceof Error && err.name && err.name !== "Error" ? `${err.name}: ` : "";
  const text = name + (err instanceof Error ? err.message : String(err ?? ""));
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^at\s/.test(l))
    .join(" ");
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/**
 * Retry delay in milliseconds for the n-th attempt of a call someone waits on (a model call):
 * half to all of base·2^(n−1), the jitter keeping many callers from retrying in step.
 */
export function backoffMs(attempt: number, baseMs: number, random = Math.random): number {
  return Math.round(baseMs * 2 ** (attempt - 1) * (0.5 + random() / 2));
}

/** Retry delay in seconds for the n-th delivery of a queue message: 2, 4, 8, … capped at 5 minutes. */
export function backoffSeconds(attempts: number, capSeconds = 300): number {
  return Math.min(capSeconds, 2 ** Math.max(1, attempts));
}

/** Epoch milliseconds as the API shows times (ISO 8601, UTC); null stays null. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
