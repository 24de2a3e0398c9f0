import { safeParseAsync, type $ZodIssue, type $ZodType, type output } from "zod/v4/core";
import en from "zod/v4/locales/en.js";

/** English messages whether the schema came from `zod` (which loads them) or `zod/mini` (which does not). */
const messages = { error: en().localeError };

function describe(issues: readonly $ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates a value against a zod schema; the error lists what is wrong, for a person or a model. */
export async function validate<S extends $ZodType>(schema: S, value: unknown): Promise<Checked<output<S>>> {
  const parsed = await safeParseAsync(schema, value, messages);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: describe(parsed.error.issues) };
}
