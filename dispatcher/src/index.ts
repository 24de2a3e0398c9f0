import type { DispatcherEnv } from "../../core/env";
import { createApp } from "./app";
import { LocalRuntime, type RuntimeExports } from "./runtime/local";

export { TenantLlm } from "./bindings/llm";
export { TenantStorage } from "./bindings/storage";

const app = createApp((env, ctx) => new LocalRuntime(env, ctx.exports as unknown as RuntimeExports));

export default app satisfies ExportedHandler<DispatcherEnv>;
