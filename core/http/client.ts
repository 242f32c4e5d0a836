/**
 * Calls to a regional core, from the edge and the admin API: Hono's typed client over the core's
 * own routes (core/http/routes.ts), signed, with a deadline, spread over the region's cores. A
 * timeout is reported as such and never confused with an answer: the core may have acted before
 * it went quiet. A refused connection is not an answer either, but nothing reached that core: the
 * same call goes to the next one.
 */
import { hc, type ClientResponse } from "hono/client";
import type { Region } from "../../shared/config.ts";
import { signRequest } from "../../shared/signing.ts";
import type { CoreApp } from "./app.ts";
import { spreadOver } from "./spread.ts";

export type CoreClient = ReturnType<typeof hc<CoreApp>>;

/** A core's answer with its body typed by status, or why there is none. */
export type Reached<R> =
  | (R extends ClientResponse<infer Body, infer Status, "json">
      ? { kind: "answer"; status: Status; body: Body }
      : never)
  | { kind: "timeout" }
  | { kind: "unreachable"; error: string };

/** What any core call may come back with: a status and a JSON body (an answer or a problem). */
export type CoreAnswer = Reached<ClientResponse<{ [member: string]: unknown }, number, "json">>;

/**
 * The edge signs with the region's core secret; the admin API passes the admin secret. The
 * signature covers the path with its query and the body exactly as they leave.
 */
export function coreClient(
  region: Region,
  { timeoutMs, secret = region.coreSecret }: { timeoutMs: number; secret?: string },
): CoreClient {
  const spread = spreadOver(region.cores.map((core) => core.url));
  return hc<CoreApp>(region.coreUrl, {
    fetch: async (input: string | URL | Request, init: RequestInit = {}) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const path = url.pathname + url.search;
      const method = init.method ?? "GET";
      const body = typeof init.body === "string" ? init.body : "";
      const headers = new Headers(init.headers);
      for (const [name, value] of Object.entries(signRequest(secret, method, path, body))) headers.set(name, value);
      // One deadline for the call, whichever cores it takes.
      const signal = AbortSignal.timeout(timeoutMs);
      let refusal: unknown;
      for (const core of spread.order()) {
        try {
          return await fetch(new URL(path, core), { ...init, headers, signal });
        } catch (error) {
          if (signal.aborted) throw error;
          spread.refused(core);
          refusal = error;
        }
      }
      throw refusal;
    },
  });
}

/** A product's counters and sale terms in one region, or why not. */
export type ProductAnswer = Reached<Awaited<ReturnType<CoreClient["v1"]["products"][":id"]["$get"]>>>;

/** `X-Request-Id` for a call, so the core's log lines carry the caller's id. */
export const tracing = (requestId: string | undefined) => (requestId ? { headers: { "X-Request-Id": requestId } } : {});

/** Runs one call: its answer, or a timeout, or the reason the core could not be reached. */
export async function reach<R extends ClientResponse<unknown, number, "json">>(
  call: () => Promise<R>,
): Promise<Reached<R>> {
  try {
    const response = await call();
    return { kind: "answer", status: response.status, body: await response.json() } as Reached<R>;
  } catch (error) {
    if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError"))
      return { kind: "timeout" };
    return { kind: "unreachable", error: String(error) };
  }
}
