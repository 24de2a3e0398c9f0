import { z } from "@hono/zod-openapi";
import { sha256Hex } from "../../core/crypto";
import { jsonNestsDeeper, MAX_JSON_DEPTH, readBodyLimited } from "../../core/http/body";
import { ProblemError } from "../../core/http/problem";
import { validationProblem } from "../../core/http/validate";
import { DEFAULT_COMPATIBILITY_DATE, type ScriptBundle } from "../../core/scripts/bundle";
import { validateBundle } from "./scripts/validate";

const MODULE_TYPE = /^(?:application\/javascript\+module|text\/javascript\+module|text\/javascript|application\/javascript)\s*(?:;|$)/i;
const MULTIPART = /^multipart\/form-data\s*;/i;
/** The name a single-module upload is stored under inside its bundle. */
export const SINGLE_MODULE_NAME = "agent.js";

/** The `metadata` part of a multipart upload: the subset of Workers' upload metadata a tenant controls. */
export const UploadMetadata = z
  .strictObject({
    main_module: z.string().min(1),
    compatibility_date: z.string().optional(),
    compatibility_flags: z.array(z.string()).max(32).optional(),
  })
  .openapi("UploadMetadata");

export interface ParsedUpload {
  bundle: ScriptBundle;
  /**
   * SHA-256 (hex) of a single module's bytes — what `sha256sum agent.js` prints — or, for a
   * multipart upload, of the bundle in canonical form (modules sorted by name), so the same code
   * always has the same digest whatever the multipart boundary.
   */
  sha256: string;
  /** Total size of the modules in bytes. */
  size: number;
}

function canonical(bundle: ScriptBundle): string {
  const modules = Object.keys(bundle.modules)
    .sort()
    .map((name) => [name, bundle.modules[name]]);
  return JSON.stringify([bundle.mainModule, bundle.compatibilityDate, bundle.compatibilityFlags, modules]);
}

const utf8 = (bytes: Uint8Array, what: string) => {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ProblemError("invalid-script", `${what} is not valid UTF-8.`);
  }
};

/**
 * Reads an upload — one ES module, or Workers-style multipart with several modules and a
 * `metadata` part — within `limit` bytes, and validates it completely before anything is stored.
 */
export async function parseUpload(request: Request, limit: number): Promise<ParsedUpload> {
  const type = request.headers.get("content-type") ?? "";
  if (MODULE_TYPE.test(type)) {
    const bytes = await readBodyLimited(request, limit, "script");
    const code = utf8(bytes, "The script");
    if (code.trim() === "") throw new ProblemError("invalid-script", "The script is empty.");
    const bundle: ScriptBundle = {
      mainModule: SINGLE_MODULE_NAME,
      modules: { [SINGLE_MODULE_NAME]: code },
      compatibilityDate: DEFAULT_COMPATIBILITY_DATE,
      compatibilityFlags: [],
    };
    validateBundle(bundle);
    return { bundle, sha256: await sha256Hex(bytes), size: bytes.byteLength };
  }
  if (MULTIPART.test(type)) return parseMultipart(await readBodyLimited(request, limit, "script"), type);
  throw new ProblemError(
    "unsupported-media-type",
    "Upload one ES module as Content-Type: application/javascript+module (or text/javascript), or several as multipart/form-data.",
  );
}

async function parseMultipart(bytes: Uint8Array, type: string): Promise<ParsedUpload> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch {
    throw new ProblemError("invalid-script", "The multipart body cannot be parsed.");
  }
  let metadata: z.infer<typeof UploadMetadata> | undefined;
  const modules: Record<string, string> = {};
  let size = 0;
  for (const [field, value] of form.entries()) {
    if (field === "metadata") {
      const text = typeof value === "string" ? value : await value.text();
      if (jsonNestsDeeper(text)) throw new ProblemError("invalid-request", `The metadata part nests deeper than ${MAX_JSON_DEPTH} levels.`);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new ProblemError("malformed-json", "The metadata part is not valid JSON.");
      }
      const parsed = UploadMetadata.safeParse(json);
      if (!parsed.success) throw validationProblem(parsed.error);
      metadata = parsed.data;
      continue;
    }
    if (typeof value === "string") {
      throw new ProblemError("invalid-script", `Part "${field}" must be a file (a module), not a plain field.`);
    }
    // As in Workers' upload API, a module is named by its part (curl -F sends only the basename
    // as the file name, so `-F 'lib/util.js=@lib/util.js'` must still be lib/util.js).
    const name = field;
    if (value.type && !MODULE_TYPE.test(value.type)) {
      throw new ProblemError("unsupported-media-type", `Module "${name}" has type ${value.type}; only JavaScript modules are accepted.`);
    }
    if (name in modules) throw new ProblemError("invalid-script", `Module "${name}" is uploaded twice.`);
    const content = new Uint8Array(await value.arrayBuffer());
    modules[name] = utf8(content, `Module "${name}"`);
    size += content.byteLength;
  }
  if (!metadata) throw new ProblemError("invalid-script", 'A multipart upload needs a "metadata" part with main_module.');
  const bundle: ScriptBundle = {
    mainModule: metadata.main_module,
    modules,
    compatibilityDate: metadata.compatibility_date ?? DEFAULT_COMPATIBILITY_DATE,
    compatibilityFlags: metadata.compatibility_flags ?? [],
  };
  validateBundle(bundle);
  return { bundle, sha256: await sha256Hex(canonical(bundle)), size };
}
