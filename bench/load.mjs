// Load phases with autocannon, plus the platform's CPU time (workerd's utime + stime) over each.
import autocannon from "autocannon";
import { cpuTicks, machineTicks } from "./platform.mjs";

/**
 * One load phase against `target` ({ url, headers, body, verify }). Latencies are recorded here
 * from autocannon's per-response timings, in fractional milliseconds: its own histogram keeps
 * whole milliseconds, too coarse for sub-millisecond differences.
 */
export async function loadPhase(target, { seconds, connections, amount, cpu }) {
  const latencies = [];
  let responses = 0;
  const ticksBefore = cpu ? cpuTicks(cpu.pids) : 0;
  const machineBefore = machineTicks();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const instance = autocannon({
    url: target.url,
    method: "POST",
    headers: target.headers,
    body: target.body,
    connections,
    ...(amount ? { amount } : { duration: seconds }),
    timeout: 30,
    verifyBody: target.verify,
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    responses++;
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpuMs = cpu ? ((cpuTicks(cpu.pids) - ticksBefore) * 1000) / cpu.ticksPerSecond : null;
  const machineAfter = machineTicks();
  // Anything else busy on the machine (other processes, the hypervisor) skews a phase: report it.
  const core = (ticks) => (cpu ? ((ticks * 1000) / cpu.ticksPerSecond / (elapsed * 1000)) * 100 : null);
  const clientPercent = ((client.user + client.system) / 1000 / (elapsed * 1000)) * 100;
  const busyPercent = core(machineAfter.busy - machineBefore.busy);

  latencies.sort((a, b) => a - b);
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  const bad = Object.entries(statuses).filter(([code]) => code !== "200").reduce((n, [, count]) => n + count, 0);
  return {
    responses,
    seconds: elapsed,
    // A fixed request count ends on autocannon's next one-second tick: no meaningful rate.
    throughput: amount ? null : latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuMsPerRun: cpuMs === null || responses === 0 ? null : cpuMs / responses,
    cpuPercent: cpuMs === null ? null : (cpuMs / (elapsed * 1000)) * 100,
    clientCpuPercent: clientPercent,
    otherCpuPercent: busyPercent === null ? null : Math.max(0, busyPercent - (cpuMs / (elapsed * 1000)) * 100 - clientPercent),
    stealPercent: core(machineAfter.steal - machineBefore.steal),
    statuses,
    failures: { non200: bad, errors: result.errors, timeouts: result.timeouts, mismatches: result.mismatches },
    failed: bad + result.errors + result.timeouts + result.mismatches,
  };
}

export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values) {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}
