-- Confirms a reserved order (payment succeeded): its units move from held to sold.
-- Confirming twice is harmless. A hold past its expiry is expired here and then refused.
-- KEYS: product, users, holds, outbox, ended, order
-- ARGV: order id, order key prefix, tombstone prefix, tombstone generation ms
-- Returns {'ok', status, expiresAt} or {'err', code, status}.
local order_id = ARGV[1]
local keys = product_keys()
local now = now_ms()
local order, reply = live_hold(keys, order_id, 'confirmed', 'hold_expired', now)
if not order then return reply end

local qty = tonumber(order.qty)
redis.call('HINCRBY', keys.product, 'held', -qty)
redis.call('HINCRBY', keys.product, 'sold', qty)
redis.call('ZREM', keys.holds, order_id)
redis.call('HSET', KEYS[6], 'status', 'confirmed')
order.status = 'confirmed'
append_event(keys.outbox, order_id, order, now)
mark_ended(keys, order_id, now)
return { 'ok', order.status, order.expiresAt }
