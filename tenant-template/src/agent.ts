import type { $ZodType, output } from "zod/v4/core";
import { createContext, type AgentContext, type ContextOptions } from "./context";
import { AgentError } from "./errors";
import type { Tool } from "./tools";
import { validate } from "./validate";
import type { AgentEnv } from "./types";

export interface AgentDefinition<I, O> extends ContextOptions {
  /** Validates the run's input (a failure is an `AgentError` naming what is wrong). */
  input?: $ZodType;
  /** The tools `ctx.llm.runTools` offers by default. */
  tools?: readonly Tool[];
  run(input: I, ctx: AgentContext): O | Promise<O>;
}

/** What an agent module's default export is: the platform POSTs `{ runId, input }` to `fetch`. */
export interface Agent {
  fetch(request: Request, env: AgentEnv): Promise<Response>;
}

/**
 * Turns `run(input, ctx)` into the module an agent version is: the platform POSTs
 * `{ runId, input }` to its default export's `fetch`, and the JSON `run` returns is the run's
 * output. A throw fails the run with `<ErrorName>: <message>`.
 */
export function defineAgent<S extends $ZodType, O = unknown>(definition: AgentDefinition<output<S>, O> & { input: S }): Agent;
export function defineAgent<I = unknown, O = unknown>(definition: AgentDefinition<I, O>): Agent;
export function defineAgent<I, O>(definition: AgentDefinition<I, O>): Agent {
  return {
    async fetch(request, env) {
      const body = (await request.json()) as { input?: unknown };
      let input = body.input;
      if (definition.input) {
        const checked = await validate(definition.input, input);
        if (!checked.ok) throw new AgentError(`invalid input: ${checked.error}`);
        input = checked.value;
      }
      const ctx = createContext(env, definition);
      const output = await definition.run(input as I, ctx);
      return Response.json(output ?? null);
    },
  };
}
