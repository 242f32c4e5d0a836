/**
 * What the edge's order and queue routes answer, before it is a Response: a status, the body as
 * JSON (an order, a ticket, or a problem) and headers. The routes check it against what they
 * declare and send it (edge/http/replies.ts).
 */
import type { CoreAnswer } from "../core/http/client.ts";
import { problem, PROBLEM_CONTENT_TYPE, type Problem } from "../shared/problems.ts";
import type { Admission, StoredAnswer } from "./admission/admission.ts";
import { queueStatus, type Entry } from "./room/waiting-room.ts";

export interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export const problemAnswer = (body: Problem, headers: Record<string, string> = {}): Answer => ({
  status: body.status,
  body,
  headers,
});

export const unavailable = (detail: string, retryAfterSeconds?: number) =>
  problemAnswer(problem("unavailable", detail), retryAfterSeconds ? { "Retry-After": String(retryAfterSeconds) } : {});

/** A 401 or 403 from a core is about this edge (its signature, its clock, a proxy between), not the buyer. */
export const refusesTheEdge = (answer: CoreAnswer) =>
  answer.kind === "answer" && (answer.status === 401 || answer.status === 403);

/** A core's answer as the buyer gets it: its own when it is about the order, else 503 and why. */
export function fromCore(answer: CoreAnswer): Answer {
  if (answer.kind === "answer" && !refusesTheEdge(answer))
    return { status: answer.status, body: answer.body, headers: {} };
  const detail =
    answer.kind === "timeout"
      ? "the region did not answer in time"
      : answer.kind === "answer"
        ? "the region refused this edge"
        : "the region cannot be reached";
  return unavailable(`${detail}; retry with the same Idempotency-Key`);
}

/** A core's answer as the edge passes it on, and stores it under the Idempotency-Key. */
export function storedAnswer({ status, body }: Extract<CoreAnswer, { kind: "answer" }>): StoredAnswer {
  return { status, contentType: status >= 400 ? PROBLEM_CONTENT_TYPE : "application/json", body: JSON.stringify(body) };
}

/** A stored answer, given again. */
export const replayed = (stored: Extract<Admission, { kind: "replay" }>): Answer => ({
  status: stored.status,
  body: JSON.parse(stored.body),
  headers: { "Idempotent-Replayed": "true" },
});

/** A queued order's answer: 202 and its ticket; Retry-After says when to look again. */
export function queueAnswer(entry: Extract<Entry, { kind: "queued" }>): Answer {
  const body = queueStatus(entry.token, entry.ticket, entry.standing, entry.rate);
  return { status: 202, body, headers: { "Retry-After": "1", Location: body.links.status } };
}
