// Values every component must agree on, which no environment variable changes.

/** The stack's own database (an external DATABASE_URL names its own). */
export const DATABASE_NAME = "fluxgate";

/**
 * How long a request's Idempotency-Key is remembered at the edge, and so how long a core keeps
 * the outcome of an order it has forgotten (a tombstone): a retry within it never reserves twice.
 */
export const IDEMPOTENCY_WINDOW_MS = 86_400_000;
