import { toJSONSchema, type $ZodType, type output } from "zod/v4/core";
import type { AgentContext } from "./context";
import { registerTool, toolImpl } from "./internal";
import type { ToolSpec } from "./types";
import { validate } from "./validate";

/**
 * A tool the model may call: its arguments are declared with a zod schema (classic `zod` or
 * `zod/mini`, both work), which gives the model its JSON Schema and validates what it sends.
 */
export interface Tool<S extends $ZodType = $ZodType, R = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly parameters: S;
  /** Runs with validated arguments; a string goes back to the model as is, anything else as JSON. */
  run(args: output<S>, ctx: AgentContext): R | Promise<R>;
}

/** What the model API accepts as a tool name. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Declares a tool. Its JSON Schema comes from zod's `toJSONSchema` (the input side), made once. */
export function tool<S extends $ZodType, R>(definition: Tool<S, R>): Tool<S, R> {
  const { name, description, parameters } = definition;
  if (!TOOL_NAME.test(name)) throw new TypeError(`tool name "${name}" must match ${TOOL_NAME}`);
  const made = Object.freeze({ ...definition });
  let spec: ToolSpec | undefined;
  registerTool(made, {
    spec() {
      if (!spec) {
        const { $schema: _, ...schema } = toJSONSchema(parameters, { io: "input" }) as Record<string, unknown>;
        spec = { name, ...(description ? { description } : {}), parameters: schema };
      }
      return spec;
    },
    async parse(text) {
      let json: unknown;
      try {
        json = text.trim() === "" ? {} : JSON.parse(text);
      } catch (err) {
        return { ok: false, error: `the arguments for ${name} are not valid JSON (${err instanceof Error ? err.message : String(err)})` };
      }
      const checked = await validate(parameters, json);
      return checked.ok ? checked : { ok: false, error: `invalid arguments for ${name}: ${checked.error}` };
    },
  });
  return made;
}

/** The tool as the model sees it: `{ name, description, parameters: <JSON Schema> }`, e.g. for `ctx.llm.chat({ tools })`. */
export function toolSpec(t: Tool): ToolSpec {
  return toolImpl(t).spec();
}
