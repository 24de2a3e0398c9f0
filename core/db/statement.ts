/**
 * A drizzle query as a raw D1 statement, for `d1.batch([...])` calls that still mix in raw
 * statements: the SQL and its parameters are drizzle's (built from core/db/schema.ts), only the
 * statement object is D1's. Code that batches drizzle queries alone uses `db(d1).batch([...])`.
 */
export function d1Statement(d1: D1Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return d1.prepare(sql).bind(...params);
}
