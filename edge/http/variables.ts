/** What the edge's middleware sets on a request for the handlers after it (Hono's `Variables`). */
import type { Region } from "../../shared/config.ts";
import type { IdempotencyKeyVariables } from "../middleware/idempotency-key/index.ts";
import type { IdentityVariables } from "../middleware/identity/index.ts";

export type EdgeVariables = IdempotencyKeyVariables &
  IdentityVariables & {
    /** The regions in this request's order of preference: X-Region, then its country's, then `*`'s. */
    regions: Region[];
    requestId: string;
  };

/** The Hono environment of the edge's app and of each sub-app joined to it. */
export type EdgeHonoEnv = { Variables: EdgeVariables };
