import { z } from "@hono/zod-openapi";

/** A page size: 1 to `max`, `fallback` when not given. */
export const pageLimit = (fallback: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).openapi({ description: `Items per page: 1 to ${max} (default ${fallback}).` });

/**
 * The query every list of both Workers takes: `cursor` (the previous page's, opaque) and `limit`.
 * Lists differ only in their page sizes and, for R2 listings, how long a cursor may be.
 */
export function PageQuery(sizes: { limit: number; max: number; cursorMax?: number }) {
  return z.object({
    cursor: z
      .string()
      .max(sizes.cursorMax ?? 64)
      .optional()
      .openapi({ description: "The `cursor` of the previous page; absent for the first." }),
    limit: pageLimit(sizes.limit, sizes.max),
  });
}

/** The `cursor` a page answers with. */
export const NextCursor = z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." });

/**
 * One page of a list fetched with `limit + 1` rows: the extra row only says whether another page
 * exists, and the cursor is the key of the last row shown.
 */
export function page<R, K>(rows: R[], limit: number, key: (row: R) => K): { items: R[]; cursor: K | null } {
  const items = rows.slice(0, limit);
  return { items, cursor: rows.length > limit ? key(items.at(-1)!) : null };
}
