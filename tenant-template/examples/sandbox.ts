// Runs a Python snippet outside the isolate, in a fresh Fly Machine that is destroyed afterwards
// (the SDK's FlyMachinesRunner). Setup: allowlist api.machines.dev for the tenant (egress), and
// set the agent's secrets FLY_API_TOKEN (a token for the app) and, optionally, FLY_APP.
//
// Input: {"code": "print(1+1)"} → {"stdout": "2\n", "stderr": ""}. A failing snippet fails the
// run with "RemoteToolError: python exited with code 1: …".
import * as z from "zod/mini";
import { defineAgent, FlyMachinesRunner, remoteTool } from "../src/index";

const python = remoteTool({
  name: "python",
  description: "Run a Python 3 snippet; what it prints is the result.",
  parameters: z.object({ code: z.string().check(z.maxLength(20_000)) }),
  command: ({ code }) => ["python3", "-c", code],
  timeoutSeconds: 30,
});

export default defineAgent({
  input: z.object({ code: z.string() }),
  runner: (ctx) =>
    new FlyMachinesRunner({ app: ctx.secrets.FLY_APP ?? "isoplane-sandbox", token: ctx.secrets.FLY_API_TOKEN, image: "python:3.12-slim" }),
  async run({ code }, ctx) {
    const { stdout, stderr } = await ctx.tools.remote(python, { code });
    return { stdout, stderr };
  },
});
