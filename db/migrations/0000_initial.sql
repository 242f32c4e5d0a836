CREATE TYPE "public"."order_status" AS ENUM('reserved', 'confirmed', 'cancelled', 'expired');--> statement-breakpoint
CREATE TYPE "public"."transfer_state" AS ENUM('pending', 'released', 'completed');--> statement-breakpoint
CREATE TABLE "allocations" (
	"product_id" text NOT NULL,
	"region" text NOT NULL,
	"units" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "allocations_product_id_region_pk" PRIMARY KEY("product_id","region"),
	CONSTRAINT "allocations_units_non_negative" CHECK ("allocations"."units" >= 0)
);
--> statement-breakpoint
CREATE TABLE "inventory_transfers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"product_id" text NOT NULL,
	"from_region" text NOT NULL,
	"to_region" text NOT NULL,
	"units" integer NOT NULL,
	"state" "transfer_state" DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inventory_transfers_units_positive" CHECK ("inventory_transfers"."units" > 0),
	CONSTRAINT "inventory_transfers_distinct_regions" CHECK ("inventory_transfers"."from_region" <> "inventory_transfers"."to_region")
);
--> statement-breakpoint
CREATE TABLE "order_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "order_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"order_id" uuid NOT NULL,
	"type" "order_status" NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	CONSTRAINT "order_events_order_type" UNIQUE("order_id","type")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY NOT NULL,
	"product_id" text NOT NULL,
	"region" text NOT NULL,
	"origin_region" text NOT NULL,
	"user_id" text NOT NULL,
	"quantity" integer NOT NULL,
	"status" "order_status" NOT NULL,
	"reserved_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_quantity_positive" CHECK ("orders"."quantity" > 0),
	CONSTRAINT "orders_hold_ends_after_reservation" CHECK ("orders"."expires_at" is null or "orders"."expires_at" > "orders"."reserved_at")
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"total_units" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"per_user_limit" integer NOT NULL,
	"max_per_order" integer NOT NULL,
	"hold_seconds" integer NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "products_total_units_non_negative" CHECK ("products"."total_units" >= 0),
	CONSTRAINT "products_window_ordered" CHECK ("products"."ends_at" > "products"."starts_at"),
	CONSTRAINT "products_per_user_limit_positive" CHECK ("products"."per_user_limit" > 0),
	CONSTRAINT "products_max_per_order_positive" CHECK ("products"."max_per_order" > 0),
	CONSTRAINT "products_hold_seconds_non_negative" CHECK ("products"."hold_seconds" >= 0)
);
--> statement-breakpoint
ALTER TABLE "allocations" ADD CONSTRAINT "allocations_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_transfers" ADD CONSTRAINT "inventory_transfers_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "orders_product_region_status" ON "orders" USING btree ("product_id","region","status");--> statement-breakpoint
CREATE INDEX "orders_user" ON "orders" USING btree ("user_id");--> statement-breakpoint
CREATE VIEW "public"."region_sales" AS (select "product_id", "region", coalesce(sum("quantity") filter (where "status" = 'reserved'), 0)::int as "held", coalesce(sum("quantity") filter (where "status" = 'confirmed'), 0)::int as "sold" from "orders" group by "orders"."product_id", "orders"."region");