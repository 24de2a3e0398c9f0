// The test runtime's main Worker: both platform Workers behind one fetch, chosen by host name,
// so tests drive each through its real HTTP handler over the same local D1 and R2.
import controlPlane from "../control-plane/src/index";
import dispatcher from "../dispatcher/src/index";

export { TenantLlm, TenantStorage } from "../dispatcher/src/index";

export const CONTROL_PLANE_HOST = "control-plane.test";

export default {
  fetch(request, env, ctx) {
    const worker = new URL(request.url).hostname === CONTROL_PLANE_HOST ? controlPlane : dispatcher;
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Cloudflare.Env>;
