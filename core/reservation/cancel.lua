-- Cancels a reserved order: its units go back, exactly once. Cancelling twice is harmless;
-- a hold past its expiry is expired instead (its units go back all the same).
-- KEYS: product, users, holds, outbox, order
-- ARGV: order id, order key prefix
-- Returns {'ok', status, expiresAt} or {'err', code, status}.
local order_id = ARGV[1]
local keys = { product = KEYS[1], users = KEYS[2], holds = KEYS[3], outbox = KEYS[4], order_prefix = ARGV[2] }
local now = now_ms()
local order, reply = live_hold(keys, order_id, 'cancelled', 'order_not_reserved', now)
if not order then return reply end

release_hold(keys, order_id, order, 'cancelled', now)
return { 'ok', order.status, order.expiresAt }
