import type { $ZodType, input, output } from "zod/v4/core";
import type { AgentContext } from "../context";
import { RemoteToolError, ToolError } from "../errors";
import { preview, report } from "../events";
import { registerTool, toolImpl } from "../internal";
import { tool, type Tool } from "../tools";
import { validate } from "../validate";
import type { RemoteToolRequest, RemoteToolResult } from "./types";

export interface RemoteToolOptions<S extends $ZodType = $ZodType> {
  /** argv for the validated arguments, e.g. `({ code }) => ["python3", "-c", code]`. */
  command(args: output<S>): string[];
  image?: string;
  timeoutSeconds?: number;
  env?: Record<string, string>;
}

/**
 * A tool whose work runs outside the isolate, on the agent's `RemoteToolRunner`. Given to
 * `ctx.llm.runTools` the model sees an ordinary tool (its result is the command's stdout; a
 * failure goes back to the model as an error); called directly, `ctx.tools.remote(tool, args)`
 * returns `{ exitCode, stdout, stderr }`.
 */
export interface RemoteTool<S extends $ZodType = $ZodType> extends Tool<S, string> {
  readonly remote: Readonly<RemoteToolOptions<S>>;
}

export function remoteTool<S extends $ZodType>(
  definition: { name: string; description?: string; parameters: S } & RemoteToolOptions<S>,
): RemoteTool<S> {
  const { name, description, parameters, ...remote } = definition;
  const base = tool<S, string>({
    name,
    ...(description ? { description } : {}),
    parameters,
    run: async (args, ctx) => (await execute(ctx, self, args)).stdout,
  });
  const self: RemoteTool<S> = Object.freeze({ ...base, remote: Object.freeze({ ...remote }) });
  registerTool(self, toolImpl(base));
  return self;
}

/** Runs the tool's command with validated arguments; a non-zero exit is a RemoteToolError. */
export async function execute<S extends $ZodType>(ctx: AgentContext, t: RemoteTool<S>, args: output<S>): Promise<RemoteToolResult> {
  const request: RemoteToolRequest = {
    command: t.remote.command(args),
    ...(t.remote.image ? { image: t.remote.image } : {}),
    ...(t.remote.timeoutSeconds ? { timeoutSeconds: t.remote.timeoutSeconds } : {}),
    ...(t.remote.env ? { env: t.remote.env } : {}),
    labels: { isoplane_run: ctx.run.id, isoplane_tool: t.name },
  };
  const result = await ctx.tools.runner.run(request);
  if (result.exitCode !== 0) {
    const detail = (result.stderr || result.stdout).trim().split("\n").at(-1) ?? "";
    throw new RemoteToolError(`${t.name} exited with code ${result.exitCode}${detail ? `: ${detail}` : ""}`, { tool: t.name, ...result });
  }
  return result;
}

/** `ctx.tools.remote(tool, args)`: validates the arguments, runs the command, reports `tool.call` / `tool.result` under `id`. */
export async function callRemote<S extends $ZodType>(ctx: AgentContext, t: RemoteTool<S>, args: input<S>, id: string): Promise<RemoteToolResult> {
  await report(ctx.env, "tool.call", { id, name: t.name, arguments: preview(JSON.stringify(args) ?? "null") });
  try {
    const checked = await validate(t.parameters, args);
    if (!checked.ok) throw new ToolError(`invalid arguments for ${t.name}: ${checked.error}`, t.name);
    const result = await execute(ctx, t, checked.value);
    await report(ctx.env, "tool.result", { id, name: t.name, result: preview(result.stdout) });
    return result;
  } catch (err) {
    await report(ctx.env, "tool.result", { id, name: t.name, error: preview(err instanceof Error ? err.message : String(err)) });
    throw err;
  }
}
