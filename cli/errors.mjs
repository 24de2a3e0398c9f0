// @ts-check

/**
 * An error the CLI reports as "✘ [ERROR] <message>" with indented notes, and exits with `exitCode`.
 */
export class CliError extends Error {
  /**
   * @param {string} message
   * @param {string[]} [notes] lines printed under the message
   * @param {number} [exitCode]
   */
  constructor(message, notes = [], exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.notes = notes;
    this.exitCode = exitCode;
  }
}

/** A mistake on the command line: the usage of the command follows the message. */
export class UsageError extends CliError {
  /** @param {string} message @param {string} [command] the command whose usage to show */
  constructor(message, command) {
    super(message, [], 2);
    this.name = "UsageError";
    this.command = command;
  }
}
