import type { ChatRequest } from "./types";

/**
 * The model a provider is asked for. The gateway resolves `provider/model` names and always sets
 * it, so a request without one is a bug upstream, not something to paper over with a default.
 */
export function requireModel(request: ChatRequest): string {
  if (!request.model) throw new TypeError("ChatRequest.model is required: the gateway names the model for every call");
  return request.model;
}
