import type { ControlPlaneEnv } from "../../core/env";
import { createApp } from "./app";
import { LocalPublisher } from "./publisher/local";

const app = createApp((env) => new LocalPublisher(env.DB, env.BUCKET));

export default app satisfies ExportedHandler<ControlPlaneEnv>;
