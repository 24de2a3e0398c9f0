import type { TestProject } from "vitest/node";
import { bundleAgent } from "../tenant-template/build.mjs";
import { buildDashboard } from "../control-plane/dashboard/build.mjs";

/** Builds the example agents with the same esbuild step as `npm run agent:build`, and the dashboard, in Node, once. */
export default async function setup(project: TestProject): Promise<void> {
  // The control plane bundles the dashboard's build (control-plane/dashboard/dist/assets.json).
  await buildDashboard();
  project.provide("exampleAgent", (await bundleAgent("tenant-template/examples/summarize.ts")) as string);
  project.provide("researchAgent", (await bundleAgent("tenant-template/examples/research.ts")) as string);
  project.provide("sandboxAgent", (await bundleAgent("tenant-template/examples/sandbox.ts")) as string);
}

declare module "vitest" {
  export interface ProvidedContext {
    exampleAgent: string;
    researchAgent: string;
    sandboxAgent: string;
  }
}
