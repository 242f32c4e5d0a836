/**
 * The inventory services over one database and the regions' cores: the ledger, the move driver's
 * dependencies and the product service. Built here once for every caller (the admin API, the
 * demo's seeding, the bench, the tests).
 */
import type { Database } from "../../db/client.ts";
import type { Region } from "../../shared/config.ts";
import { regionCores } from "./cores.ts";
import { transferLedger } from "./ledger.ts";
import type { MoveDeps } from "./moves.ts";
import { productService } from "./products.ts";

export function inventoryServices(db: Database, regions: Region[], afterStep?: MoveDeps["afterStep"]) {
  const ledger = transferLedger(db);
  const moves: MoveDeps = { ledger, cores: regionCores(regions), afterStep };
  const products = productService(
    db,
    regions.map((r) => r.id),
    moves,
  );
  return { ledger, moves, products };
}
