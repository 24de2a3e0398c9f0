// @ts-check
// Reading what the user hands the CLI: files, stdin, a hidden prompt.
import { readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { CliError } from "./errors.mjs";

/** @param {NodeJS.ReadableStream} stream @returns {Promise<Buffer>} */
export async function readAll(stream) {
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/**
 * A file's bytes, or stdin's for "-", with an error that names the file.
 * @param {string} path @param {NodeJS.ReadableStream} stdin
 */
export async function readInput(path, stdin) {
  if (path === "-") return readAll(stdin);
  try {
    return await readFile(path);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    throw new CliError(code === "ENOENT" ? `No such file: ${path}` : `Could not read ${path}`, code === "ENOENT" ? [] : [String(/** @type {Error} */ (err).message)]);
  }
}

/**
 * Asks on the terminal without echoing what is typed (for keys).
 * @param {string} question
 * @param {NodeJS.ReadStream} stdin a TTY
 * @param {NodeJS.WriteStream} stderr
 * @returns {Promise<string>}
 */
export function promptHidden(question, stdin, stderr) {
  return new Promise((resolve, reject) => {
    stderr.write(question);
    let answer = "";
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (/** @type {Error | null} */ err) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      stderr.write("\n");
      if (err) reject(err);
      else resolve(answer);
    };
    /** @param {string} text */
    const onData = (text) => {
      for (const ch of text) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done(null);
        if (ch === "\u0003") return done(new CliError("Cancelled", [], 130));
        if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
        else if (ch >= " ") answer += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/**
 * Waits `ms`; an abort ends the wait early with the signal's AbortError.
 * @param {number} ms @param {AbortSignal} [signal]
 */
export const sleep = (ms, signal) => delay(ms, undefined, { signal });
