import built from "../../dashboard/dist/assets.json";

/** One built file of the dashboard, ready to serve. */
export interface Asset {
  type: string;
  etag: string;
  body: string | Uint8Array;
  /** Hashed file names never change content: cached for a year. */
  immutable: boolean;
}

type Built = { files: Record<string, { type: string; encoding: "utf8" | "base64"; body: string; etag: string }> };

function decode(file: Built["files"][string]): string | Uint8Array {
  if (file.encoding === "utf8") return file.body;
  return Uint8Array.from(atob(file.body), (ch) => ch.charCodeAt(0));
}

/** The dashboard's files by path under /dashboard/ (`index.html`, `assets/index-<hash>.js`, …). */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  Object.entries((built as unknown as Built).files).map(([path, file]) => [
    path,
    { type: file.type, etag: file.etag, body: decode(file), immutable: path.startsWith("assets/") },
  ]),
);
