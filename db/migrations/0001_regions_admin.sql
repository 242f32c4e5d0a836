ALTER TYPE "public"."transfer_state" ADD VALUE 'failed';--> statement-breakpoint
CREATE TABLE "admin_audit" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "admin_audit_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"product_id" text,
	"region" text,
	"status" integer NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "inventory_transfers" DROP CONSTRAINT "inventory_transfers_distinct_regions";--> statement-breakpoint
ALTER TABLE "inventory_transfers" ALTER COLUMN "from_region" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "inventory_transfers" ALTER COLUMN "to_region" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "inventory_transfers" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "inventory_transfers" ADD COLUMN "requested_by" text NOT NULL;--> statement-breakpoint
CREATE INDEX "admin_audit_at" ON "admin_audit" USING btree ("at");--> statement-breakpoint
CREATE INDEX "inventory_transfers_unfinished" ON "inventory_transfers" USING btree ("product_id") WHERE "inventory_transfers"."state" in ('pending', 'released');--> statement-breakpoint
ALTER TABLE "inventory_transfers" ADD CONSTRAINT "inventory_transfers_distinct_regions" CHECK ("inventory_transfers"."from_region" is distinct from "inventory_transfers"."to_region");