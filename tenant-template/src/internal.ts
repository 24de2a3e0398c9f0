import type { Checked } from "./validate";
import type { ToolSpec } from "./types";

/**
 * What `tool()` knows how to do for the loop: the model's view of the tool and argument parsing.
 * Kept beside the tool rather than imported by the loop, so an agent that declares no tools does
 * not carry zod's JSON Schema generator in its bundle.
 */
export interface ToolImpl {
  spec(): ToolSpec;
  parse(text: string): Promise<Checked<unknown>>;
}

const impls = new WeakMap<object, ToolImpl>();

export function registerTool(tool: object, impl: ToolImpl): void {
  impls.set(tool, impl);
}

export function toolImpl(tool: { name: string }): ToolImpl {
  const impl = impls.get(tool);
  if (!impl) throw new TypeError(`"${tool.name}" was not made with tool() or remoteTool()`);
  return impl;
}
