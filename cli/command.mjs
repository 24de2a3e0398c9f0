// @ts-check
// The shape of a command; types only.

/**
 * What every command gets.
 * @typedef {{
 *   values: Record<string, string | boolean | undefined>,
 *   positionals: string[],
 *   out: import("./output.mjs").Output,
 *   env: NodeJS.ProcessEnv,
 *   stdin: NodeJS.ReadStream,
 *   cwd: string,
 *   signal: AbortSignal,
 * }} CommandContext
 */

/**
 * @typedef {{ type: "string" | "boolean", short?: string }} OptionSpec
 * @typedef {{ name: string, summary: string, usage: string, options: Record<string, OptionSpec>,
 *   run(ctx: CommandContext): Promise<number | void> }} Command
 * @typedef {{ name: string, summary: string, usage: string, subcommands: Record<string, Command> }} CommandGroup
 */

export {};
