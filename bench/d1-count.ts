// Bench only: counts what the dispatcher asks of D1, from inside the runtime. A wrapped D1Database
// counts every statement it executes and every round trip it makes:
//   prepare(…).run/all/first/raw → 1 statement, 1 round trip
//   batch([s1…sn])               → n statements, 1 round trip
//   exec(sql)                    → its statements (D1's count), 1 round trip
// Counts are kept per "site" (the Worker's fetch handler, each Durable Object class, each queue
// consumer…) in module globals: one copy per isolate. bench/counted-dispatcher.ts reads and resets
// them in every isolate it can reach and says how many it found.

export interface SiteCount {
  statements: number;
  roundTrips: number;
  /** Round trips by the statement(s) they carried (whitespace-collapsed, cut to 160 characters). */
  sql: Record<string, number>;
}

export interface IsolateCounts {
  isolate: string;
  sites: Record<string, SiteCount>;
}

let sites: Record<string, SiteCount> = {};
let isolateId: string | null = null;

/** A random id for this isolate, made on first use (not at startup, where randomness is refused). */
export function isolate(): string {
  return (isolateId ??= crypto.randomUUID());
}

export function snapshot(): IsolateCounts {
  return { isolate: isolate(), sites: structuredClone(sites) };
}

export function reset(): IsolateCounts {
  sites = {};
  return snapshot();
}

const shortSql = (sql: string) => {
  const text = sql.replace(/\s+/g, " ").trim();
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
};

function tally(site: string, statements: number, sql: string): void {
  const count = (sites[site] ??= { statements: 0, roundTrips: 0, sql: {} });
  count.statements += statements;
  count.roundTrips += 1;
  count.sql[sql] = (count.sql[sql] ?? 0) + 1;
}

const statementSql = new WeakMap<object, string>();
const realStatement = new WeakMap<object, D1PreparedStatement>();
const EXECUTES = new Set<PropertyKey>(["run", "all", "first", "raw"]);

/** Own property access on the real object (workerd's D1 classes keep their state in private fields). */
function passThrough(target: object, prop: PropertyKey): unknown {
  const value = Reflect.get(target, prop, target) as unknown;
  return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

function countedStatement(statement: D1PreparedStatement, site: string, sql: string): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(target, prop) {
      if (prop === "bind") return (...values: unknown[]) => countedStatement(target.bind(...values), site, sql);
      if (EXECUTES.has(prop)) {
        return (...args: unknown[]) => {
          tally(site, 1, sql);
          return (target[prop as "run"] as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return passThrough(target, prop);
    },
  });
  statementSql.set(proxy, sql);
  realStatement.set(proxy, statement);
  return proxy;
}

type D1Like = Pick<D1Database, "prepare" | "batch">;

function countedDatabase<T extends D1Like>(db: T, site: string): T {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => countedStatement(target.prepare(sql), site, shortSql(sql));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          tally(site, statements.length, statements.map((s) => statementSql.get(s) ?? "?").join(" ; "));
          return target.batch(statements.map((s) => realStatement.get(s) ?? s));
        };
      }
      if (prop === "exec") {
        return async (sql: string) => {
          const result = await (target as unknown as D1Database).exec(sql);
          tally(site, Math.max(1, result?.count ?? 1), shortSql(sql));
          return result;
        };
      }
      if (prop === "dump") {
        return () => {
          tally(site, 1, "(dump)");
          return (target as unknown as D1Database).dump();
        };
      }
      if (prop === "withSession") {
        return (...args: unknown[]) => countedDatabase((target as unknown as D1Database).withSession(...(args as [string?])), site);
      }
      return passThrough(target, prop);
    },
  });
}

const databases = new WeakMap<object, Map<string, D1Database>>();
const envs = new WeakMap<object, Map<string, object>>();

/** The same D1 binding, counting under `site` (one wrapper per binding and site). */
export function countedD1(db: D1Database, site: string): D1Database {
  const bySite = databases.get(db) ?? databases.set(db, new Map()).get(db)!;
  return bySite.get(site) ?? bySite.set(site, countedDatabase(db, site)).get(site)!;
}

/** `env` with its `DB` binding counting under `site`; every other binding untouched. */
export function countedEnv<E extends object>(env: E, site: string): E {
  const bySite = envs.get(env) ?? envs.set(env, new Map()).get(env)!;
  let wrapped = bySite.get(site) as E | undefined;
  if (!wrapped) {
    const db = (env as { DB?: D1Database }).DB;
    const own = Object.getOwnPropertyDescriptor(env, "DB");
    if (!db) wrapped = env;
    else if (own && !own.configurable && !own.writable) {
      // A frozen binding can't be swapped behind a Proxy (its invariants): a copy instead.
      const { DB: _, ...others } = Object.getOwnPropertyDescriptors(env);
      wrapped = Object.create(Object.getPrototypeOf(env), { ...others, DB: { value: countedD1(db, site), enumerable: true } }) as E;
    } else {
      wrapped = new Proxy(env, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          return prop === "DB" && value ? countedD1(value as D1Database, site) : value;
        },
      });
    }
    bySite.set(site, wrapped);
  }
  return wrapped;
}
