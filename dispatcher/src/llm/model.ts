import type { ChatProvider, ChatRequest } from "./types";

/**
 * The model a provider is asked for. The gateway resolves `provider/model` names and always sets
 * it, so a request without one is a bug upstream, not something to paper over with a default.
 */
export function requireModel(request: ChatRequest): string {
  if (!request.model) throw new TypeError("ChatRequest.model is required: the gateway names the model for every call");
  return request.model;
}

/** A provider that fills in `model` when a request leaves it out (for the single-model `LLM_*` configuration). */
export class DefaultModelProvider implements ChatProvider {
  constructor(
    readonly inner: ChatProvider,
    readonly model: string,
  ) {}

  chat(request: ChatRequest) {
    return this.inner.chat({ ...request, model: request.model ?? this.model });
  }

  stream(request: ChatRequest) {
    return this.inner.stream({ ...request, model: request.model ?? this.model });
  }
}
