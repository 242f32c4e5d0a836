ALTER TABLE "products" ADD COLUMN "room_mode" text DEFAULT 'off' NOT NULL;--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "room_rate" integer DEFAULT 100 NOT NULL;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_room_rate_positive" CHECK ("products"."room_rate" > 0);