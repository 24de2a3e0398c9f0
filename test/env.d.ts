import type { D1Migration } from "@cloudflare/vitest-plugin";
import type { ControlPlaneEnv } from "../control-plane/src/env";
import type { DispatcherEnv } from "../dispatcher/src/env";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("./worker");
    }
    interface Env extends DispatcherEnv, ControlPlaneEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** The example agent, bundled by test/global-setup.ts. */
      EXAMPLE_AGENT: string;
      /** tenant-template/examples/research.ts, bundled by test/global-setup.ts. */
      RESEARCH_AGENT: string;
      /** tenant-template/examples/sandbox.ts (remote tools on the fake Fly Machines API), bundled likewise. */
      SANDBOX_AGENT: string;
    }
  }
}
