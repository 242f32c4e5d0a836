/**
 * `flux-gate products …` and `flux-gate transfers …`: the admin API from a terminal. Every
 * command is one or two HTTP calls; a refusal prints its problem code and detail on one line
 * and exits 1.
 */
import { parseArgs } from "node:util";
import { hc, type ClientResponse } from "hono/client";
import type { JSONParsed } from "hono/utils/types";
import type { AdminApp } from "../admin/http/app.ts";
import type { TransferBody } from "../admin/http/replies.ts";
import type { ProductView } from "../admin/inventory/products.ts";
import type { Config } from "../shared/config.ts";
import { DEVELOPMENT_ADMIN_TOKEN } from "../shared/config.ts";
import { UsageError } from "../shared/command-line.ts";
import { problemSchema } from "../shared/problems.ts";
import { ROOM_MODES, type RoomMode } from "../shared/room-modes.ts";

export const ADMIN_USAGE = `  products list                          every product
  products show ID                       totals, the pool and each region's live counters
  products create ID --name N --total N --starts T --ends T --per-user N --max-per-order N
                  --hold SECONDS [--allocate REGION=UNITS,…] [--buckets B]
                                         T is an ISO time, "now", or "+30m", "+2h", "+7d";
                                         B buckets per region (1-16) split a hot product over
                                         a Redis Cluster's masters (docs/capacity.md)
  products update ID [--name N] [--total N] [--starts T] [--ends T] [--per-user N]
                  [--max-per-order N] [--hold SECONDS]
                  (create and update) [--room off|shed|queue|lobby] [--room-rate N]
                                         the edge's waiting room: past N orders/s per region
                                         buyers get a place in a queue (lobby: drawn at the
                                         start) or, with shed, 503 and Retry-After
  products pause ID | products resume ID
  products allocate ID REGION=UNITS…     set every named region's allocation (global)
  products rebalance ID [--window MINUTES]
                                         give the pool to the regions selling fastest (global)
  products claim ID --region R --units N       take units from the pool into R
  products release ID --region R --units N     give R's available units back to the pool
  products transfer ID --from R --to R --units N [--id UUID]
                                         move units; repeating with the same --id is safe
  transfers list [--product ID] | transfers show ID
                                         admin commands reach FLUX_GATE_ADMIN_URL with the
                                         token in --token or FLUX_GATE_ADMIN_TOKEN`;

/** The admin API refused or could not be reached: one line, exit 1. */
export class AdminCommandError extends Error {}

const OPTIONS = {
  json: { type: "boolean", default: false },
  token: { type: "string" },
  name: { type: "string" },
  total: { type: "string" },
  starts: { type: "string" },
  ends: { type: "string" },
  "per-user": { type: "string" },
  "max-per-order": { type: "string" },
  hold: { type: "string" },
  room: { type: "string" },
  "room-rate": { type: "string" },
  buckets: { type: "string" },
  allocate: { type: "string" },
  region: { type: "string" },
  units: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  id: { type: "string" },
  product: { type: "string" },
  window: { type: "string" },
} as const;

function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} takes a whole number, not "${value}"`);
  return Number(value);
}

/** "now", "+30m", "+2h", "+7d" or an ISO time → ISO time. */
export function instant(flag: string, value: string | undefined, now = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  if (value === "now") return new Date(now).toISOString();
  const relative = /^\+(\d+)([smhd])$/.exec(value);
  if (relative)
    return new Date(
      now + Number(relative[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[relative[2] as "s"],
    ).toISOString();
  if (Number.isNaN(Date.parse(value)))
    throw new UsageError(`--${flag} takes an ISO time, "now" or "+2h", not "${value}"`);
  return new Date(value).toISOString();
}

/** `us-east=600,eu-west=400` (or several arguments) → { "us-east": 600, "eu-west": 400 }. */
export function allocationTargets(items: string[]): Record<string, number> {
  const targets: Record<string, number> = {};
  for (const item of items.flatMap((i) => i.split(",")).filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(item);
    if (!match) throw new UsageError(`"${item}" is not REGION=UNITS`);
    targets[match[1]!] = Number(match[2]);
  }
  if (Object.keys(targets).length === 0) throw new UsageError("name at least one REGION=UNITS");
  return targets;
}

function roomMode(value: string | undefined): RoomMode | undefined {
  if (value === undefined) return undefined;
  const mode = ROOM_MODES.find((m) => m === value);
  if (!mode) throw new UsageError(`--room takes ${ROOM_MODES.join(", ")}, not "${value}"`);
  return mode;
}

/** A flag the command cannot do without. */
function required<T>(flag: string, value: T | undefined): T {
  if (value === undefined) throw new UsageError(`--${flag} is required`);
  return value;
}

/** What a call's successful answers carry (its refusals are problems, read apart). */
type Success<R> =
  R extends ClientResponse<infer Body, infer Status, "json"> ? (Status extends 200 | 201 | 202 ? Body : never) : never;

export async function adminCommand(
  config: Config,
  argv: string[],
  print: (line: string) => void = console.log,
): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [noun, verb, id, ...rest] = positionals;
  const token =
    values.token ??
    process.env.FLUX_GATE_ADMIN_TOKEN ??
    (config.defaultedSecrets.has("FLUX_GATE_ADMIN_TOKENS") ? DEVELOPMENT_ADMIN_TOKEN : undefined);
  if (!token) throw new UsageError("give the admin token with --token or FLUX_GATE_ADMIN_TOKEN");

  const admin = hc<AdminApp>(config.admin.url, {
    headers: { Authorization: `Bearer ${token}` },
    fetch: (input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, signal: AbortSignal.timeout(30_000) }),
  });

  /** One call's answer; a refusal, or no answer at all, is one line (AdminCommandError). */
  async function call<R extends ClientResponse<unknown, number, "json">>(request: Promise<R>): Promise<Success<R>> {
    let response: R;
    try {
      response = await request;
    } catch (error) {
      throw new AdminCommandError(
        `cannot reach the admin API at ${config.admin.url} (${(error as Error).message}); is npm start running?`,
      );
    }
    if (!response.ok) {
      const refusal = problemSchema.safeParse(await response.json().catch(() => undefined));
      throw new AdminCommandError(
        refusal.success
          ? `${refusal.data.code}: ${refusal.data.detail ?? refusal.data.title}`
          : `${response.status}: ${response.statusText}`,
      );
    }
    if (response.status === 202)
      print(`in progress: a region's core did not answer; the admin API finishes the move when it does`);
    return (await response.json()) as Success<R>;
  }
  const needId = (what = "product id") => {
    if (!id) throw new UsageError(`name the ${what}`);
    return id;
  };
  const productFields = () => ({
    name: values.name,
    totalUnits: wholeNumber("total", values.total),
    startsAt: instant("starts", values.starts),
    endsAt: instant("ends", values.ends),
    perUserLimit: wholeNumber("per-user", values["per-user"]),
    maxPerOrder: wholeNumber("max-per-order", values["max-per-order"]),
    holdSeconds: wholeNumber("hold", values.hold),
    roomMode: roomMode(values.room),
    roomRate: wholeNumber("room-rate", values["room-rate"]),
  });
  const units = () => required("units", wholeNumber("units", values.units));

  const show = <T>(answer: T, summary: (a: T) => string) =>
    print(values.json ? JSON.stringify(answer, null, 2) : summary(answer));
  const product = () => admin.v1.products[":id"];

  switch (`${noun} ${verb ?? ""}`.trim()) {
    case "products list":
      return show(
        await call(admin.v1.products.$get()),
        (a) =>
          a.products
            .map(
              (p) =>
                `${p.id.padEnd(24)} ${String(p.totalUnits).padStart(10)} units  ${p.paused ? "paused  " : ""}${p.name}`,
            )
            .join("\n") || "no products",
      );
    case "products show":
      return show(await call(product().$get({ param: { id: needId() } })), describeProduct);
    case "products create": {
      const fields = productFields();
      const body = {
        id: needId(),
        name: required("name", fields.name),
        totalUnits: required("total", fields.totalUnits),
        startsAt: required("starts", fields.startsAt),
        endsAt: required("ends", fields.endsAt),
        perUserLimit: required("per-user", fields.perUserLimit),
        maxPerOrder: required("max-per-order", fields.maxPerOrder),
        holdSeconds: required("hold", fields.holdSeconds),
        roomMode: fields.roomMode,
        roomRate: fields.roomRate,
        buckets: wholeNumber("buckets", values.buckets),
        ...(values.allocate ? { allocations: allocationTargets([values.allocate]) } : {}),
      };
      return show(await call(admin.v1.products.$post({ json: body })), (a) => `created ${id}\n${describeProduct(a)}`);
    }
    case "products update": {
      const change = Object.fromEntries(Object.entries(productFields()).filter(([, v]) => v !== undefined));
      if (Object.keys(change).length === 0)
        throw new UsageError("name something to change (--name, --total, --starts, …)");
      return show(await call(product().$patch({ param: { id: needId() }, json: change })), () => `updated ${id}`);
    }
    case "products pause":
      return show(await call(product().pause.$post({ param: { id: needId() } })), () => `${id} paused`);
    case "products resume":
      return show(await call(product().resume.$post({ param: { id: needId() } })), () => `${id} resumed`);
    case "products allocate": {
      const json = { regions: allocationTargets(rest) };
      return show(await call(product().allocations.$put({ param: { id: needId() }, json })), describeProduct);
    }
    case "products rebalance": {
      const json = { windowMinutes: wholeNumber("window", values.window) };
      return show(await call(product().rebalance.$post({ param: { id: needId() }, json })), (a) => {
        const shares = Object.entries(a.shares);
        const given = shares.length
          ? shares.map(([r, n]) => `${n} to ${r}`).join(", ")
          : "nothing (no sales in the window, or no pool)";
        return `rebalanced over the last ${a.windowMinutes} min: ${given}\n${describeProduct(a)}`;
      });
    }
    case "products claim":
    case "products release": {
      const request = {
        param: { region: required("region", values.region), id: needId() },
        json: { units: units(), transferId: values.id },
      };
      const regionProduct = admin.v1.regions[":region"].products[":id"];
      const moved = verb === "claim" ? regionProduct.claim.$post(request) : regionProduct.release.$post(request);
      return show(await call(moved), describeTransfer);
    }
    case "products transfer": {
      const json = {
        productId: needId(),
        from: required("from", values.from),
        to: required("to", values.to),
        units: units(),
        transferId: values.id,
      };
      return show(await call(admin.v1.transfers.$post({ json })), describeTransfer);
    }
    case "transfers list":
      return show(
        await call(admin.v1.transfers.$get({ query: { productId: values.product } })),
        (a) => a.transfers.map(describeTransfer).join("\n") || "no transfers",
      );
    case "transfers show":
      return show(
        await call(admin.v1.transfers[":id"].$get({ param: { id: needId("transfer id") } })),
        describeTransfer,
      );
    default:
      throw new UsageError(`unknown command "${positionals.join(" ")}"`);
  }
}

function describeTransfer(t: JSONParsed<TransferBody>): string {
  return `transfer ${t.transferId}: ${t.units} units of ${t.productId} ${t.from} → ${t.to}: ${t.state}${t.reason ? ` (${t.reason})` : ""}`;
}

function describeProduct({ product, unallocated, inTransit, available, regions }: JSONParsed<ProductView>): string {
  const lines = [
    `${product.id} (${product.name}): ${product.totalUnits} units, sale ${product.startsAt} → ${product.endsAt}${product.paused ? ", PAUSED" : ""}`,
    `  pool ${unallocated}, in transit ${inTransit}, available to buyers ${available}`,
    ...(product.roomMode === "off"
      ? []
      : [`  waiting room: ${product.roomMode}, ${product.roomRate} orders admitted per second per region`]),
    ...(product.buckets > 1 ? [`  ${product.buckets} buckets per region`] : []),
    `  ${"region".padEnd(12)} ${"allocated".padStart(10)} ${"available".padStart(10)} ${"held".padStart(8)} ${"sold".padStart(8)}`,
    ...regions.map((r) =>
      r.unreachable
        ? `  ${r.region.padEnd(12)} ${String(r.allocation).padStart(10)}   (core did not answer)`
        : `  ${r.region.padEnd(12)} ${String(r.live?.allocated ?? 0).padStart(10)} ${String(r.live?.available ?? 0).padStart(10)} ${String(r.live?.held ?? 0).padStart(8)} ${String(r.live?.sold ?? 0).padStart(8)}`,
    ),
  ];
  return lines.join("\n");
}
