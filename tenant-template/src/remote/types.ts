/**
 * "Complex tools" — a shell, a code interpreter, anything needing a real OS — do not run in the
 * agent's isolate. A `RemoteToolRunner` runs one command somewhere else and reports how it went;
 * `FlyMachinesRunner` is one such runner. Anything that implements `run` can take its place.
 */
export interface RemoteToolRequest {
  /** argv: the program and its arguments, no shell involved (use ["sh", "-c", "…"] for one). */
  command: string[];
  /** The container image to run it in (a runner may have a default). */
  image?: string;
  /** How long the command may take. */
  timeoutSeconds?: number;
  /** Environment variables for the command. */
  env?: Record<string, string>;
  /** Labels for the resources the runner creates (the SDK adds the run id and tool name). */
  labels?: Record<string, string>;
}

export interface RemoteToolResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RemoteToolRunner {
  /**
   * Runs the command to its end. A command that exits non-zero is a result, not an error;
   * a runner throws (a `RemoteToolError` with `status`) only when it could not run it.
   */
  run(request: RemoteToolRequest): Promise<RemoteToolResult>;
}
