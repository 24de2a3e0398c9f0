import { z } from "zod";

export const SCOPES = ["runs", "context", "scripts", "usage"] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;
