// @ts-check
// Terminal output in wrangler's manner: "✨" for what was done, "✘ [ERROR]" / "▲ [WARNING]" on
// stderr, dim details. Colors only on a TTY, never with NO_COLOR (https://no-color.org), forced
// with FORCE_COLOR.

/** @typedef {{ write(chunk: string | Uint8Array): unknown, isTTY?: boolean }} Stream */

/**
 * Whether to color `stream`.
 * @param {Stream} stream
 * @param {NodeJS.ProcessEnv} [env]
 */
export function colorEnabled(stream, env = process.env) {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  if (env.TERM === "dumb") return false;
  return Boolean(stream.isTTY);
}

/** @param {boolean} on */
function palette(on) {
  /** @param {string} open @param {string} close */
  const wrap = (open, close) => (/** @type {string} */ text) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);
  return {
    bold: wrap("1", "22"),
    dim: wrap("2", "22"),
    red: wrap("31", "39"),
    green: wrap("32", "39"),
    yellow: wrap("33", "39"),
    blue: wrap("34", "39"),
    cyan: wrap("36", "39"),
    gray: wrap("90", "39"),
    /** wrangler's "✘ [ERROR]" badge: red background */
    errorBadge: wrap("41;97", "49;39"),
    warnBadge: wrap("43;30", "49;39"),
  };
}

/** @typedef {ReturnType<typeof palette>} Palette */

/**
 * The CLI's view of the terminal. Everything a command prints goes through one of these, so tests
 * can capture it and colors are decided once per stream.
 */
export class Output {
  /**
   * @param {{ stdout?: Stream, stderr?: Stream, env?: NodeJS.ProcessEnv }} [options]
   */
  constructor({ stdout = process.stdout, stderr = process.stderr, env = process.env } = {}) {
    this.stdout = stdout;
    this.stderr = stderr;
    /** colors for stdout */
    this.c = palette(colorEnabled(stdout, env));
    /** colors for stderr */
    this.ce = palette(colorEnabled(stderr, env));
  }

  /** A line on stdout. @param {string} [text] */
  log(text = "") {
    this.stdout.write(`${text}\n`);
  }

  /** Text on stdout, as is (streamed model output). @param {string} text */
  write(text) {
    this.stdout.write(text);
  }

  /** Bytes on stdout, as they are (a downloaded document). @param {Uint8Array} bytes */
  writeBytes(bytes) {
    this.stdout.write(bytes);
  }

  /** A progress line on stderr, so stdout stays the command's result. @param {string} text */
  progress(text) {
    this.stderr.write(`${this.ce.dim(text)}\n`);
  }

  /** "✨ <text>" on stdout. @param {string} text */
  success(text) {
    this.log(`✨ ${text}`);
  }

  /** @param {string} text @param {string[]} [notes] */
  warn(text, notes = []) {
    this.stderr.write(`${this.ce.yellow("▲")} ${this.ce.warnBadge("[WARNING]")} ${text}\n${formatNotes(notes)}`);
  }

  /** @param {string} text @param {string[]} [notes] */
  error(text, notes = []) {
    this.stderr.write(`${this.ce.red("✘")} ${this.ce.errorBadge("[ERROR]")} ${this.ce.bold(text)}\n${formatNotes(notes)}`);
  }
}

/** @param {string[]} notes */
function formatNotes(notes) {
  return notes.length ? `\n${notes.map((n) => `  ${n}`).join("\n")}\n\n` : "";
}

/** Sizes as wrangler prints them: "512 B", "1.56 KiB", "2.10 MiB". @param {number} bytes */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(2)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** "41 ms", "1.23 sec". @param {number | null | undefined} ms */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "?";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} sec`;
}

/** JSON on one line, cut to `max` characters. @param {unknown} value @param {number} [max] */
export function oneLine(value, max = 120) {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "null");
  const flat = text.replace(/\s*\n\s*/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** @param {number} n @param {string} word */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Left-aligned columns, the header dimmed.
 * @param {string[]} header @param {string[][]} rows @param {Palette} c
 */
export function table(header, rows, c) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  /** @param {string[]} cells */
  const line = (cells) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [c.dim(line(header)), ...rows.map(line)].join("\n");
}
