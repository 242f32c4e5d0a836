/**
 * What the admin API's bodies and queries may hold. Read by its validator (validator.ts), so
 * the handlers get parsed values and the CLI's typed client the shapes it may send.
 */
import { z } from "zod";
import { MAX_BUCKETS, PRODUCT_ID } from "../../shared/keys.ts";
import { ROOM_MODES } from "../../shared/room-modes.ts";

/** The unallocated units' name where a region's would go (a transfer's `from` or `to`). */
export const POOL = "pool";

/** The schemas for this deployment: a region is one of `regionIds`. */
export function adminSchemas(regionIds: string[]) {
  const region = z.enum(regionIds as [string, ...string[]]);
  const units = z.int().min(1).max(1_000_000_000);
  const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
  const productFields = {
    name: z.string().min(1).max(200),
    totalUnits: z.int().min(0).max(1_000_000_000),
    startsAt: instant,
    endsAt: instant,
    perUserLimit: z.int().min(1),
    maxPerOrder: z.int().min(1),
    holdSeconds: z
      .int()
      .min(0)
      .max(7 * 24 * 3600),
    paused: z.boolean(),
    roomMode: z.enum(ROOM_MODES),
    roomRate: z.int().min(1).max(1_000_000),
  };
  return {
    create: z.strictObject({
      id: z.string().regex(PRODUCT_ID, "letters, digits, '.', '_' and '-', at most 64"),
      ...productFields,
      paused: productFields.paused.optional(),
      roomMode: productFields.roomMode.optional(),
      roomRate: productFields.roomRate.optional(),
      buckets: z.int().min(1).max(MAX_BUCKETS).optional(),
      allocations: z.partialRecord(region, z.int().min(0)).optional(),
    }),
    update: z
      .strictObject(productFields)
      .partial()
      .refine((o) => Object.keys(o).length > 0, "name at least one field to change"),
    allocations: z.strictObject({ regions: z.partialRecord(region, z.int().min(0)) }),
    claimOrRelease: z.strictObject({ units, transferId: z.uuid().optional() }),
    /** No body at all means the defaults. */
    rebalance: z.strictObject({ windowMinutes: z.int().min(1).max(1_440).default(15) }).default({ windowMinutes: 15 }),
    transfer: z
      .strictObject({
        transferId: z.uuid().optional(),
        productId: z.string().regex(PRODUCT_ID),
        from: z.union([region, z.literal(POOL)]),
        to: z.union([region, z.literal(POOL)]),
        units,
      })
      .refine((t) => t.from !== t.to, "from and to must differ"),
    /** `?limit=`, 1 to 1,000 (100 when absent). */
    list: z.object({
      productId: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1_000).default(100),
    }),
  };
}

export type AdminSchemas = ReturnType<typeof adminSchemas>;
