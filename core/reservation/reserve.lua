-- Reserves units for one order, atomically. Idempotent by order id: a known id gets its
-- first outcome back and changes nothing. A request that runs after its deadline (`not after`,
-- ms; 0 for none) reserves nothing: the edge may already have let another region serve it.
-- KEYS: product, users, holds, outbox, order
-- ARGV: order id, user id, quantity, origin region, outbox limit, not after
-- Returns {'ok', status, expiresAt, replayed, origin} or {'err', code}.
local order_id, user_id, origin = ARGV[1], ARGV[2], ARGV[4]
local quantity, outbox_limit, not_after = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])

local existing = load_order(KEYS[5])
if existing then return { 'ok', existing.status, existing.expiresAt, 1, existing.origin } end

local now = now_ms()
if not_after > 0 and now > not_after then return { 'err', 'request_expired' } end
local p = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'paused', 'maxPerOrder', 'perUserLimit', 'holdMs',
  'available', 'region', 'productId')
if not p[1] then return { 'err', 'unknown_product' } end
if p[3] == '1' then return { 'err', 'sale_paused' } end
if now < tonumber(p[1]) then return { 'err', 'sale_not_started' } end
if now >= tonumber(p[2]) then return { 'err', 'sale_ended' } end
if quantity < 1 or quantity > tonumber(p[4]) then return { 'err', 'invalid_quantity' } end
if tonumber(redis.call('HGET', KEYS[2], user_id) or '0') + quantity > tonumber(p[5]) then
  return { 'err', 'user_limit_exceeded' }
end
local available = tonumber(p[7])
if available <= 0 then return { 'err', 'sold_out' } end
if available < quantity then return { 'err', 'insufficient_stock' } end
-- Last: only an order that would be written is turned away for a full outbox.
if redis.call('XLEN', KEYS[4]) >= outbox_limit then return { 'err', 'overloaded' } end

local hold_ms = tonumber(p[6])
local order = { product = p[9], region = p[8], origin = origin, user = user_id, qty = quantity, reservedAt = now }
redis.call('HINCRBY', KEYS[1], 'available', -quantity)
if hold_ms > 0 then
  order.status, order.expiresAt = 'reserved', now + hold_ms
  redis.call('HINCRBY', KEYS[1], 'held', quantity)
  redis.call('ZADD', KEYS[3], order.expiresAt, order_id)
else
  order.status, order.expiresAt = 'confirmed', ''
  redis.call('HINCRBY', KEYS[1], 'sold', quantity)
end
redis.call('HINCRBY', KEYS[2], user_id, quantity)
redis.call('HSET', KEYS[5], 'product', order.product, 'region', order.region, 'origin', origin, 'user', user_id,
  'qty', quantity, 'status', order.status, 'reservedAt', now, 'expiresAt', order.expiresAt)
append_event(KEYS[4], order_id, order, now)
return { 'ok', order.status, tostring(order.expiresAt), 0, origin }
