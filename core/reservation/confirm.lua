-- Confirms a reserved order (payment succeeded): its units move from held to sold.
-- Confirming twice is harmless. A hold past its expiry is expired here and then refused.
-- KEYS: product, users, holds, outbox, order
-- ARGV: order id, order key prefix
-- Returns {'ok', status, expiresAt} or {'err', code, status}.
local order_id = ARGV[1]
local keys = { product = KEYS[1], users = KEYS[2], holds = KEYS[3], outbox = KEYS[4], order_prefix = ARGV[2] }
local now = now_ms()
local order, reply = live_hold(keys, order_id, 'confirmed', 'hold_expired', now)
if not order then return reply end

local qty = tonumber(order.qty)
redis.call('HINCRBY', KEYS[1], 'held', -qty)
redis.call('HINCRBY', KEYS[1], 'sold', qty)
redis.call('ZREM', KEYS[3], order_id)
redis.call('HSET', KEYS[5], 'status', 'confirmed')
order.status = 'confirmed'
append_event(KEYS[4], order_id, order, now)
return { 'ok', order.status, order.expiresAt }
