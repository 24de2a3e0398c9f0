#!/usr/bin/env node
// @ts-check
// `isoplane`: the tenant's command line for an Isoplane platform. Plain ESM with JSDoc types, no
// build step, so `npx isoplane` works straight after `npm ci`.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ApiError } from "./api.mjs";
import { command as context } from "./commands/context.mjs";
import { command as deploy } from "./commands/deploy.mjs";
import { command as login } from "./commands/login.mjs";
import { command as logs } from "./commands/logs.mjs";
import { command as run } from "./commands/run.mjs";
import { CliError, UsageError } from "./errors.mjs";
import { Output } from "./output.mjs";
import { VERSION } from "./version.mjs";

/** @typedef {import("./command.mjs").Command} Command */
/** @typedef {import("./command.mjs").CommandGroup} CommandGroup */

/** @type {Record<string, Command | CommandGroup>} */
const COMMANDS = { login, deploy, run, logs, context };

const GLOBAL_FLAGS = `GLOBAL FLAGS
  -h, --help     Show help
  -v, --version  Show the version`;

const MAIN_USAGE = `isoplane

COMMANDS
  isoplane login                         Save the platform's address and your API key
  isoplane deploy <file> --agent <name>  Bundle an agent and upload it as its new active version
  isoplane run <agent> --input <json>    Run an agent (--stream its events, --async [--wait])
  isoplane logs <runId>                  Print a run's event log
  isoplane context put|get|ls|rm         Manage the tenant's context documents

${GLOBAL_FLAGS}

ENVIRONMENT
  ISOPLANE_API_KEY, ISOPLANE_URL, ISOPLANE_CONTROL_PLANE_URL override what \`login\` saved.
  ISOPLANE_CONFIG is the config file (default: $XDG_CONFIG_HOME/isoplane/config.json, else
  ~/.config/isoplane/config.json). NO_COLOR turns colors off.

Run \`isoplane <command> --help\` for a command's options.`;

/**
 * Runs the CLI; resolves to the exit code.
 * @param {string[]} argv the arguments after `isoplane`
 * @param {{ out?: Output, env?: NodeJS.ProcessEnv, stdin?: NodeJS.ReadStream, cwd?: string, signal?: AbortSignal }} [io]
 * @returns {Promise<number>}
 */
export async function main(argv, io = {}) {
  const out = io.out ?? new Output();
  const env = io.env ?? process.env;
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === "-h" || name === "--help" || name === "help") {
      const topic = name === "help" ? rest[0] : undefined;
      out.log(topic ? usageOf(topic) : MAIN_USAGE);
      return 0;
    }
    if (name === "-v" || name === "--version" || name === "version") {
      out.log(VERSION);
      return 0;
    }
    const found = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!found) throw new UsageError(`Unknown command: ${name}`);
    /** @type {Command} */
    let cmd;
    let args = rest;
    let path = name;
    if ("subcommands" in found) {
      const [sub, ...subArgs] = rest;
      if (sub === undefined || sub === "-h" || sub === "--help") {
        out.log(`${found.usage}\n\n${GLOBAL_FLAGS}`);
        return sub === undefined ? 2 : 0;
      }
      const picked = Object.hasOwn(found.subcommands, sub) ? found.subcommands[sub] : undefined;
      if (!picked) throw new UsageError(`Unknown command: ${name} ${sub}`, name);
      cmd = picked;
      args = subArgs;
      path = `${name} ${picked.name}`;
    } else {
      cmd = found;
    }
    const { values, positionals } = parse(args, cmd, path);
    if (values.help) {
      out.log(`${cmd.usage}\n\n${GLOBAL_FLAGS}`);
      return 0;
    }
    return (
      (await cmd.run({
        values,
        positionals,
        out,
        env,
        stdin: io.stdin ?? process.stdin,
        cwd: io.cwd ?? process.cwd(),
        signal: io.signal ?? new AbortController().signal,
      })) ?? 0
    );
  } catch (err) {
    return report(out, err, env);
  }
}

/**
 * @param {string[]} args @param {Command} cmd @param {string} path
 * @returns {{ values: Record<string, string | boolean | undefined>, positionals: string[] }}
 */
function parse(args, cmd, path) {
  try {
    const parsed = parseArgs({
      args,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: /** @type {Record<string, string | boolean | undefined>} */ (parsed.values), positionals: parsed.positionals };
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    if (!e.code?.startsWith("ERR_PARSE_ARGS")) throw err;
    const unknown = /Unknown option '([^']+)'/.exec(e.message);
    throw new UsageError(unknown ? `Unknown argument: ${unknown[1]}` : e.message, path);
  }
}

/** @param {string} topic */
function usageOf(topic) {
  const [name, sub] = topic.split(" ");
  const found = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!found) throw new UsageError(`Unknown command: ${topic}`);
  if (sub && "subcommands" in found && Object.hasOwn(found.subcommands, sub)) return `${found.subcommands[sub]?.usage}\n\n${GLOBAL_FLAGS}`;
  return `${found.usage}\n\n${GLOBAL_FLAGS}`;
}

/**
 * "✘ [ERROR] …" on stderr; the exit code.
 * @param {Output} out @param {unknown} err @param {NodeJS.ProcessEnv} env
 */
function report(out, err, env) {
  if (err instanceof UsageError) {
    out.error(err.message, [err.command ? `Run \`isoplane ${err.command} --help\` for usage.` : "Run `isoplane --help` for the commands."]);
    return err.exitCode;
  }
  if (err instanceof ApiError || err instanceof CliError) {
    out.error(err.message, err.notes);
    return err.exitCode;
  }
  if (err instanceof Error && err.name === "AbortError") {
    out.error("Cancelled");
    return 130;
  }
  const message = err instanceof Error ? err.message : String(err);
  out.error(message, env.ISOPLANE_DEBUG ? [String(err instanceof Error ? err.stack : err)] : ["Set ISOPLANE_DEBUG=1 to see where it came from."]);
  return 1;
}

/** Ctrl-C aborts what the command is doing (a streamed run is cancelled); a second one exits at once. */
function interruptSignal() {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
  return controller.signal;
}

/** Whether this module is the program (node cli/isoplane.mjs, npx isoplane), not an import. */
function isEntry() {
  try {
    return Boolean(process.argv[1]) && realpathSync(/** @type {string} */ (process.argv[1])) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  const [major] = process.versions.node.split(".").map(Number);
  if ((major ?? 0) < 20) {
    process.stderr.write(`✘ [ERROR] isoplane needs Node.js 20 or newer; this is ${process.version}.\n`);
    process.exit(1);
  }
  process.exitCode = await main(process.argv.slice(2), { signal: interruptSignal() });
}
