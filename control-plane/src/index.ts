import type { ControlPlaneEnv } from "./env";
import { createApp } from "./app";
import { localPublisher, type Publisher } from "./publisher/types";
import { WfpPublisher, wfpConfig } from "./publisher/wfp";

/** `PUBLISHER=wfp` publishes to Workers for Platforms; anything else keeps versions local. */
export function publisherFor(env: ControlPlaneEnv): Publisher {
  return env.PUBLISHER === "wfp" ? new WfpPublisher(wfpConfig(env)) : localPublisher;
}

const app = createApp(publisherFor);

export default app satisfies ExportedHandler<ControlPlaneEnv>;
