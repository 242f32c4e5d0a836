/**
 * What a region's store takes and answers (core/reservation/store.ts and its rooms): types only,
 * so that a module naming an order or a sale's rules needs none of the code that reads Redis.
 */
import type { OrderStatus } from "../../shared/events.ts";
import type { Result } from "../../shared/result.ts";
import type { RoomMode } from "../../shared/room-modes.ts";

/** A refusal about an existing order names the status it is in. */
export type Outcome<T> = Result<T, { status?: OrderStatus }>;

export interface ReservationRequest {
  orderId: string;
  userId: string;
  productId: string;
  quantity: number;
  originRegion: string;
  /** The buyer's home region, recorded with the order and carried by its events. */
  homeRegion?: string;
  /** Reserve nothing if this runs later (ms since the epoch, Redis's clock). */
  notAfter?: number;
}

export interface OrderState {
  orderId: string;
  status: OrderStatus;
  /** When an unconfirmed hold runs out (ms); null once sold. */
  expiresAt: number | null;
}

export interface Reservation extends OrderState {
  /** True when this order id was reserved before: nothing changed, this is the first outcome. */
  replayed: boolean;
  /** The region the buyer came from, as the order was first reserved. */
  originRegion: string;
}

export interface OrderRecord extends OrderState {
  productId: string;
  region: string;
  originRegion: string;
  userId: string;
  /** Where the buyer's allowance for it lives; unknown for orders reserved before homes were recorded. */
  homeRegion?: string;
  quantity: number;
  reservedAt: number;
}

export interface SaleRules {
  productId: string;
  startsAt: Date;
  endsAt: Date;
  perUserLimit: number;
  maxPerOrder: number;
  holdSeconds: number;
  paused: boolean;
  /** The waiting room the edge runs for this product (shared/room-modes.ts), and its admissions per second here. */
  roomMode: RoomMode;
  roomRate: number;
  /** Buckets per region (core/reservation/buckets.ts): 1 unless the product is split for a hot sale. */
  buckets: number;
  /**
   * When the rules last changed in PostgreSQL (ms; each change later than the one before): a
   * region keeps the newest rules it was given, however late an older load lands. 0 when unknown.
   */
  version?: number;
}

export interface SaleTerms {
  startsAt: string;
  endsAt: string;
  paused: boolean;
  perUserLimit: number;
  maxPerOrder: number;
  roomMode: RoomMode;
  roomRate: number;
}

export interface Stock {
  allocated: number;
  available: number;
  held: number;
  sold: number;
}

/** An ended order as the retention sweep offers it: its id and the status PostgreSQL holds. */
export interface StoredOrder {
  orderId: string;
  status: OrderStatus;
}
