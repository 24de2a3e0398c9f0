// The test runtime's main Worker: both platform Workers behind one fetch, chosen by host name,
// so tests drive each through its real HTTP handler over the same local D1 and R2.
import controlPlane from "../control-plane/src/index";
import dispatcher from "../dispatcher/src/index";
import { FAKE_CF } from "./fakes/cloudflare-api";

export { TenantLlm, TenantStorage } from "../dispatcher/src/index";

export const CONTROL_PLANE_HOST = "control-plane.test";
/** The control plane configured with PUBLISHER=wfp against the fake Cloudflare API. */
export const CONTROL_PLANE_WFP_HOST = "control-plane-wfp.test";

export default {
  fetch(request, env, ctx) {
    const host = new URL(request.url).hostname;
    if (host === CONTROL_PLANE_HOST) return controlPlane.fetch(request, env, ctx);
    if (host === CONTROL_PLANE_WFP_HOST) {
      const wfp = { ...env, PUBLISHER: "wfp", CF_ACCOUNT_ID: FAKE_CF.accountId, CF_API_TOKEN: FAKE_CF.token, DISPATCH_NAMESPACE: FAKE_CF.namespace };
      return controlPlane.fetch(request, wfp, ctx);
    }
    return dispatcher.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Cloudflare.Env>;
