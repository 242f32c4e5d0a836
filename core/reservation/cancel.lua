-- Cancels a reserved order: its units go back, exactly once. Cancelling twice is harmless;
-- a hold past its expiry is expired instead (its units go back all the same).
-- KEYS: product, users, holds, outbox, ended, order
-- ARGV: order id, order key prefix, tombstone prefix, tombstone generation ms
-- Returns {'ok', status, expiresAt} or {'err', code, status}.
local order_id = ARGV[1]
local keys = product_keys()
local now = now_ms()
local order, reply = live_hold(keys, order_id, 'cancelled', 'order_not_reserved', now)
if not order then return reply end

release_hold(keys, order_id, order, 'cancelled', now)
return { 'ok', order.status, order.expiresAt }
