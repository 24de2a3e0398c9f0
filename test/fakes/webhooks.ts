// A webhook receiver (host hooks.example.test): records every delivery with its headers and body.
// Paths choose its behaviour: /ok answers 200, /fail 500, /flaky-<n> fails n times then answers 200.
const deliveries: { path: string; headers: Record<string, string>; body: string; answered: number }[] = [];
const failures = new Map<string, number>();

export async function webhookReceiver(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/__deliveries") return Response.json(deliveries);
  const body = await request.text();
  let answered = 200;
  if (path.startsWith("/fail")) answered = 500;
  const flaky = /^\/flaky-(\d+)/.exec(path);
  if (flaky) {
    const seen = failures.get(path) ?? 0;
    failures.set(path, seen + 1);
    if (seen < Number(flaky[1])) answered = 503;
  }
  deliveries.push({ path, headers: Object.fromEntries(request.headers), body, answered });
  return new Response(answered === 200 ? "ok" : "nope", { status: answered });
}
