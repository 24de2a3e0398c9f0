// @ts-check
import { readFileSync } from "node:fs";

/** The package's version, shown by `isoplane --version` and sent in the User-Agent. */
export const VERSION = /** @type {{ version: string }} */ (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))).version;
