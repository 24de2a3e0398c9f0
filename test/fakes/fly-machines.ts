// A fake of the Fly Machines API (https://api.machines.dev), run in Node as part of Miniflare's
// outbound service. It keeps machines in memory and checks what the real API checks for the calls
// the SDK's FlyMachinesRunner makes — Bearer auth, the app, paths, methods, JSON bodies against the
// documented shapes (https://fly.io/docs/machines/api/machines-resource/, and the OpenAPI spec at
// docs.machines.dev for exec) — and answers anything else with 404 in Fly's `{"error": "…"}` form.
// Exec "runs" a tiny allow-list of commands deterministically:
//   echo a b            → "a b\n"
//   python3 -c 'print(<arithmetic>)' → the value ("2\n" for 1+1; ZeroDivisionError exits 1)
//   sh -c 'exit N'      → exit code N
//   anything else       → exit 127, "executable file not found"
// GET /__fake/machines lists every machine ever created (destroyed ones included), so tests can
// check that none was left running.
import { z } from "zod";

export const FAKE_FLY = { app: "isoplane-sandbox", token: "fly-test-token-machines-write" };

interface FakeMachine {
  id: string;
  app: string;
  name: string;
  region: string;
  state: "created" | "started" | "stopped" | "destroyed";
  instance_id: string;
  config: z.infer<typeof MachineConfig>;
  created_at: string;
  execs: { command: string[]; exitCode: number }[];
}

const machines = new Map<string, FakeMachine>();
const rejected: { method: string; path: string; status: number; reason: string }[] = [];
let counter = 0;

const StringMap = z.record(z.string(), z.string());

// The `config` fields this fake knows (a subset of fly.MachineConfig); unknown ones are refused,
// so a misspelt field fails here instead of being silently ignored.
const MachineConfig = z.strictObject({
  image: z.string().min(1),
  auto_destroy: z.boolean().optional(),
  restart: z.strictObject({ policy: z.enum(["no", "always", "on-failure", "spot-price"]), max_retries: z.number().int().optional() }).optional(),
  guest: z
    .strictObject({
      cpu_kind: z.enum(["shared", "performance"]).optional(),
      cpus: z.number().int().min(1).max(16).optional(),
      memory_mb: z.number().int().min(256).multipleOf(256).optional(),
    })
    .optional(),
  init: z
    .strictObject({
      exec: z.array(z.string()).optional(),
      entrypoint: z.array(z.string()).optional(),
      cmd: z.array(z.string()).optional(),
      tty: z.boolean().optional(),
    })
    .optional(),
  env: StringMap.optional(),
  metadata: StringMap.optional(),
});

const CreateMachine = z.strictObject({
  name: z.string().min(1).max(63).optional(),
  region: z.string().regex(/^[a-z]{3}$/).optional(),
  config: MachineConfig,
  skip_launch: z.boolean().optional(),
  lease_ttl: z.number().int().optional(),
  skip_service_registration: z.boolean().optional(),
  lsvd: z.boolean().optional(),
});

// MachineExecRequest: `command` (argv) or the deprecated `cmd` string; `timeout` in seconds.
const ExecRequest = z
  .strictObject({
    command: z.array(z.string()).min(1).optional(),
    cmd: z.string().min(1).optional(),
    timeout: z.number().int().min(0).optional(),
    container: z.string().optional(),
    stdin: z.string().optional(),
  })
  .refine((b) => (b.command === undefined) !== (b.cmd === undefined), "exactly one of command or cmd is required");

function error(status: number, message: string, method: string, path: string): Response {
  rejected.push({ method, path, status, reason: message });
  return Response.json({ error: message }, { status });
}

async function jsonBody<T>(request: Request, schema: z.ZodType<T>): Promise<{ ok: true; data: T } | { ok: false; message: string }> {
  if (!/^application\/json\b/i.test(request.headers.get("content-type") ?? "")) return { ok: false, message: "expected a JSON body" };
  let raw: unknown;
  try {
    raw = await request.json();
  } catch {
    return { ok: false, message: "invalid JSON" };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: `invalid request: ${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid"}` };
  }
  return { ok: true, data: parsed.data };
}

function view(m: FakeMachine) {
  const { execs: _, app: __, ...machine } = m;
  return { ...machine, updated_at: m.created_at, private_ip: "fdaa:0:1:a7b:1::2", events: [] };
}

/** What a command prints and how it exits, for the few commands the fake knows. */
function execute(command: string[]): { exit_code: number; stdout: string; stderr: string } {
  const [program, ...args] = command;
  if (program === "echo") return { exit_code: 0, stdout: `${args.join(" ")}\n`, stderr: "" };
  if ((program === "python3" || program === "python") && args[0] === "-c" && args.length === 2) {
    const code = args[1]!.trim();
    const print = /^print\(([\d\s+\-*/().]+)\)$/.exec(code);
    if (!print) {
      return { exit_code: 1, stdout: "", stderr: `Traceback (most recent call last):\n  File "<string>", line 1\nNameError: the fake interpreter only runs print(<arithmetic>)\n` };
    }
    const value = Function(`"use strict"; return (${print[1]});`)() as number;
    if (!Number.isFinite(value)) {
      return { exit_code: 1, stdout: "", stderr: `Traceback (most recent call last):\n  File "<string>", line 1, in <module>\nZeroDivisionError: division by zero\n` };
    }
    return { exit_code: 0, stdout: `${value}\n`, stderr: "" };
  }
  if (program === "sh" && args[0] === "-c" && /^exit \d{1,3}$/.test(args[1] ?? "")) {
    return { exit_code: Number(args[1]!.slice(5)) % 256, stdout: "", stderr: "" };
  }
  return { exit_code: 127, stdout: "", stderr: `exec: "${program}": executable file not found in $PATH\n` };
}

export async function fakeFlyMachines(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const method = request.method;
  if (path === "/__fake/machines" && method === "GET") {
    return Response.json({ machines: [...machines.values()], rejected });
  }
  if (request.headers.get("authorization") !== `Bearer ${FAKE_FLY.token}`) return error(401, "unauthorized", method, path);

  const route = /^\/v1\/apps\/([^/]+)\/machines(?:\/([^/]+)(?:\/(wait|exec))?)?$/.exec(path);
  if (!route) return error(404, `no route for ${method} ${path}`, method, path);
  const [, app, id, action] = route;
  if (decodeURIComponent(app!) !== FAKE_FLY.app) return error(404, "app not found", method, path);

  if (!id) {
    if (method === "GET") return Response.json([...machines.values()].filter((m) => m.app === FAKE_FLY.app && m.state !== "destroyed").map(view));
    if (method !== "POST") return error(404, `no route for ${method} ${path}`, method, path);
    const body = await jsonBody(request, CreateMachine);
    if (!body.ok) return error(400, body.message, method, path);
    const n = ++counter;
    const machine: FakeMachine = {
      id: (0x1857156b526d00 + n).toString(16),
      app: FAKE_FLY.app,
      name: body.data.name ?? `fake-machine-${n}`,
      region: body.data.region ?? "ord",
      state: "created",
      instance_id: `01HFAKE${String(n).padStart(19, "0")}`,
      config: body.data.config,
      created_at: new Date().toISOString(),
      execs: [],
    };
    // Booting takes a moment on Fly: the machine is `created` until someone waits for `started`.
    if (body.data.skip_launch) machine.state = "stopped";
    machines.set(machine.id, machine);
    return Response.json(view(machine));
  }

  const machine = machines.get(decodeURIComponent(id));
  if (!machine || machine.app !== FAKE_FLY.app || machine.state === "destroyed") return error(404, "machine not found", method, path);

  if (action === "wait") {
    if (method !== "GET") return error(404, `no route for ${method} ${path}`, method, path);
    const state = url.searchParams.get("state") ?? "started";
    if (!["started", "stopped", "suspended", "destroyed"].includes(state)) return error(400, `invalid state "${state}"`, method, path);
    const timeout = url.searchParams.get("timeout");
    if (timeout !== null && !(/^\d+$/.test(timeout) && Number(timeout) >= 1 && Number(timeout) <= 60)) {
      return error(400, "timeout must be a whole number of seconds between 1 and 60", method, path);
    }
    if (state === "started" && machine.state === "created") machine.state = "started";
    if (machine.state !== state) return error(408, `timed out waiting for machine to be ${state}`, method, path);
    return Response.json({ ok: true });
  }

  if (action === "exec") {
    if (method !== "POST") return error(404, `no route for ${method} ${path}`, method, path);
    const body = await jsonBody(request, ExecRequest);
    if (!body.ok) return error(400, body.message, method, path);
    if (machine.state !== "started") return error(412, `machine is ${machine.state}, not started`, method, path);
    const command = body.data.command ?? body.data.cmd!.split(/\s+/);
    const out = execute(command);
    machine.execs.push({ command, exitCode: out.exit_code });
    // flydv1.ExecResponse: zero values are omitted, as Fly's Go structs (`omitempty`) do.
    return Response.json({
      ...(out.exit_code ? { exit_code: out.exit_code } : {}),
      ...(out.stdout ? { stdout: out.stdout } : {}),
      ...(out.stderr ? { stderr: out.stderr } : {}),
    });
  }

  if (method === "GET") return Response.json(view(machine));
  if (method === "DELETE") {
    const force = url.searchParams.get("force");
    if (force !== null && force !== "true" && force !== "false") return error(400, "force must be true or false", method, path);
    if (machine.state === "started" && force !== "true") return error(412, "machine is started: stop it first or pass force=true", method, path);
    machine.state = "destroyed";
    return Response.json({ ok: true });
  }
  return error(404, `no route for ${method} ${path}`, method, path);
}
