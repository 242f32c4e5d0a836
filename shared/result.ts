/**
 * "It worked, and here is the value" or "here is the problem, by its code": the one shape of an
 * outcome that is an answer rather than an exception (a sold-out product, a refused transfer).
 * `Details` carries what a kind of failure tells beside its code.
 */
import type { ProblemCode } from "./problems.ts";

export type Result<T, Details extends object = object> =
  | { ok: true; value: T }
  | ({ ok: false; code: ProblemCode } & Details);
