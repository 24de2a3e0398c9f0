import type { D1Migration } from "@cloudflare/vitest-plugin";
import type { ControlPlaneEnv, DispatcherEnv } from "../core/env";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("./worker");
    }
    interface Env extends DispatcherEnv, ControlPlaneEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** The example agent, bundled by test/global-setup.ts. */
      EXAMPLE_AGENT: string;
    }
  }
}
