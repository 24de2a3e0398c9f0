// The dashboard's build output (control-plane/dashboard/build.mjs), a JSON module bundled into the
// control plane. Declared here so type-checking does not need a build first.
declare module "*/dashboard/dist/assets.json" {
  const assets: {
    source: string;
    builtAt: string;
    firstPage: { files: string[]; jsBytes: number; jsGzipBytes: number };
    files: Record<string, { type: string; encoding: "utf8" | "base64"; body: string; etag: string }>;
  };
  export default assets;
}
