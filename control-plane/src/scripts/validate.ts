import { parse } from "acorn";
import { ProblemError } from "../../../core/http/problem";
import { segmentProblem } from "../../../core/storage/keys";
import { RESERVED_MODULE_PREFIX, type ScriptBundle } from "../../../core/scripts/bundle";
import { KNOWN_COMPATIBILITY_FLAGS } from "./compat-flags";

const MODULE_NAME_MAX = 256;

/** A module name is a relative path of checked segments ending in `.js` or `.mjs`. */
export function checkModuleName(name: string): void {
  const bad = (why: string) => new ProblemError("invalid-script", `Module name "${name}": ${why}.`, { extra: { module: name } });
  if (name.length === 0 || name.length > MODULE_NAME_MAX) throw bad(`must be 1 to ${MODULE_NAME_MAX} characters`);
  if (name.startsWith("/")) throw bad("absolute paths are not allowed");
  for (const segment of name.split("/")) {
    const problem = segmentProblem(segment);
    if (problem) throw bad(`invalid ${problem}`);
  }
  if (!/\.m?js$/.test(name)) throw bad("must end in .js or .mjs");
  if (name.startsWith(RESERVED_MODULE_PREFIX)) throw bad(`names starting with ${RESERVED_MODULE_PREFIX} are reserved`);
}

interface Program {
  body: {
    type: string;
    source?: { value?: unknown } | null;
    specifiers?: { exported?: { type: string; name?: string; value?: unknown } }[];
  }[];
}

/** Resolves a relative specifier against the importing module's folder; null if it climbs out. */
function resolveRelative(from: string, specifier: string): string | null {
  const parts = from.split("/").slice(0, -1);
  for (const segment of specifier.split("/")) {
    if (segment === "." || segment === "") continue;
    if (segment === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(segment);
  }
  return parts.join("/");
}

/** Every relative import must name an uploaded module; bare ones (`node:…`, `cloudflare:…`) are the runtime's. */
function checkImports(name: string, program: Program, modules: Record<string, string>): void {
  for (const node of program.body) {
    const specifier = node.source?.value;
    if (typeof specifier !== "string" || !(specifier.startsWith("./") || specifier.startsWith("../"))) continue;
    const target = resolveRelative(name, specifier);
    if (target === null || !(target in modules)) {
      throw new ProblemError("invalid-script", `${name}: imports "${specifier}", which is not among the uploaded modules.`, {
        extra: { module: name },
      });
    }
  }
}

/** Parses one module as an ES module; a syntax error is a 400 that says where. */
function parseModule(name: string, code: string): Program {
  try {
    return parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true }) as unknown as Program;
  } catch (err) {
    const e = err as SyntaxError & { loc?: { line: number; column: number } };
    const line = e.loc?.line ?? 0;
    const column = (e.loc?.column ?? 0) + 1;
    const message = e.message.replace(/\s*\(\d+:\d+\)$/, "");
    throw new ProblemError("invalid-script", `${name}:${line}:${column}: ${message}`, { extra: { module: name, line, column } });
  }
}

function hasDefaultExport(program: Program): boolean {
  return program.body.some(
    (node) =>
      node.type === "ExportDefaultDeclaration" ||
      (node.type === "ExportNamedDeclaration" &&
        (node.specifiers ?? []).some((s) => s.exported?.name === "default" || s.exported?.value === "default")),
  );
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Everything about an upload that can be known before it runs: names, syntax, the default
 * export, compatibility settings. Refusals are precise 400 `invalid-script` problems.
 */
export function validateBundle(bundle: ScriptBundle, today = new Date()): void {
  const names = Object.keys(bundle.modules);
  if (names.length === 0) throw new ProblemError("invalid-script", "The upload contains no modules.");
  for (const name of names) checkModuleName(name);
  if (!(bundle.mainModule in bundle.modules)) {
    throw new ProblemError("invalid-script", `The main module "${bundle.mainModule}" is not among the uploaded modules.`);
  }
  for (const name of names) {
    const code = bundle.modules[name]!;
    const program = parseModule(name, code);
    checkImports(name, program, bundle.modules);
    if (name === bundle.mainModule && !hasDefaultExport(program)) {
      throw new ProblemError("invalid-script", `${name}: the main module has no default export (it must export default { fetch }).`, {
        extra: { module: name },
      });
    }
  }
  if (!DATE.test(bundle.compatibilityDate) || Number.isNaN(Date.parse(bundle.compatibilityDate))) {
    throw new ProblemError("invalid-script", `compatibility_date "${bundle.compatibilityDate}" is not a YYYY-MM-DD date.`);
  }
  if (bundle.compatibilityDate > today.toISOString().slice(0, 10)) {
    throw new ProblemError("invalid-script", `compatibility_date "${bundle.compatibilityDate}" is in the future.`);
  }
  for (const flag of bundle.compatibilityFlags) {
    if (!KNOWN_COMPATIBILITY_FLAGS.has(flag)) {
      throw new ProblemError("invalid-script", `Unknown compatibility flag "${flag}".`, { extra: { flag } });
    }
  }
}
