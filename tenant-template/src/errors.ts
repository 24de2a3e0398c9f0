import type { ChatMessage, ChatUsage, ToolCall } from "./types";

/**
 * Typed failures. The platform's harness reports a thrown error as `<name>: <message>` (first
 * line only), so each class sets its `name` explicitly — it survives minification.
 */

/** An expected failure: its message becomes the run's `error` ("AgentError: …"). */
export class AgentError extends Error {
  override name = "AgentError";
}

/**
 * A tool could not do what it was asked. Thrown inside a tool that runs in `ctx.llm.runTools`,
 * its message goes back to the model as the tool's result (so the model can correct itself);
 * anywhere else it fails the run like an AgentError.
 */
export class ToolError extends AgentError {
  override name = "ToolError";
  constructor(
    message: string,
    /** The tool it concerns, when known. */
    readonly tool?: string,
  ) {
    super(message);
  }
}

/** `ctx.llm.runTools` made `maxSteps` model calls and the model still asked for tools. */
export class MaxStepsExceeded extends AgentError {
  override name = "MaxStepsExceeded";
  constructor(
    readonly maxSteps: number,
    /** The conversation up to the last answer (whose tool calls are `pending`): resumable with a larger budget. */
    readonly messages: readonly ChatMessage[],
    readonly usage: ChatUsage,
    /** The tool calls of the last answer, not run. */
    readonly pending: readonly ToolCall[] = [],
  ) {
    super(`the model still asked for tools after ${maxSteps} model calls (maxSteps)`);
  }
}

/**
 * A remote (out-of-isolate) tool failed: the command exited non-zero (`exitCode`, with its
 * `stdout`/`stderr`), or the runner's API refused or failed (`status`, the HTTP status).
 */
export class RemoteToolError extends ToolError {
  override name = "RemoteToolError";
  readonly exitCode: number | undefined;
  readonly status: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  constructor(message: string, details: { tool?: string; exitCode?: number; status?: number; stdout?: string; stderr?: string } = {}) {
    super(message, details.tool);
    this.exitCode = details.exitCode;
    this.status = details.status;
    this.stdout = details.stdout ?? "";
    this.stderr = details.stderr ?? "";
  }
}
