-- Reserves units for a batch of orders of one product (bucket), each atomically and in turn, each
-- with its own outcome: one order's refusal is its own, never its neighbours'. A single order is a
-- batch of one. Idempotent by order id: a known id gets its outcome back and changes nothing, also
-- once the order is forgotten (its tombstone answers; the origin is then ''), and also when the
-- same id comes twice in one batch (the second is a replay of the first). An order that runs after
-- its deadline (`not after`, ms; 0 for none) reserves nothing: the edge may already have let
-- another region serve it.
-- A bucket of a product split into several (`passing` 1) that turns an order away for want of
-- units notes it as passed, and never reserves it later: the core tries the next bucket, and a
-- retry of the same order, which tries the buckets in the same order, must not be reserved in
-- this one once units come back while another bucket holds it.
-- KEYS: product, users, holds, outbox, ended, passed, then each order's key, in the orders' order
-- ARGV: outbox limit, orders (n), then per order: order id, user id, quantity, origin region,
--       not after, passing, home region ('' when the edge did not say); then the order key
--       prefix, the tombstone prefix, the tombstone generation ms
-- Returns one reply per order: {'ok', status, expiresAt, replayed, origin, outbox was empty} or
-- {'err', code}.
local FIELDS = 7
local outbox_limit, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local keys = product_keys()
-- Read once for the batch: the script runs alone, so only its own orders change these (each
-- reservation takes its units from `available` and adds an event to the outbox, below). The
-- batch's orders share one moment.
local now = now_ms()
local p = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'paused', 'maxPerOrder', 'perUserLimit', 'holdMs',
  'available', 'region', 'productId')
local waiting = redis.call('XLEN', KEYS[4])

local function reserve_one(order_key, order_id, user_id, quantity, origin, not_after, passing, home)
  local existing = load_order(order_key)
  if existing then return { 'ok', existing.status, existing.expiresAt, 1, existing.origin, 0 } end
  local ended = tombstone(keys, order_id, now)
  if ended then return { 'ok', ended, '', 1, '', 0 } end

  if passing and redis.call('ZSCORE', KEYS[6], order_id) then return { 'err', 'sold_out' } end
  if not_after > 0 and now > not_after then return { 'err', 'request_expired' } end
  if not p[1] then return { 'err', 'unknown_product' } end
  if p[3] == '1' then return { 'err', 'sale_paused' } end
  if now < tonumber(p[1]) then return { 'err', 'sale_not_started' } end
  if now >= tonumber(p[2]) then return { 'err', 'sale_ended' } end
  if quantity < 1 or quantity > tonumber(p[4]) then return { 'err', 'invalid_quantity' } end
  if tonumber(redis.call('HGET', KEYS[2], user_id) or '0') + quantity > tonumber(p[5]) then
    return { 'err', 'user_limit_exceeded' }
  end
  local available = tonumber(p[7])
  if available < quantity then
    if passing then
      -- Kept as long as a retry may come (the idempotency window, as tombstones are).
      redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 2 * keys.generation_ms)
      redis.call('ZADD', KEYS[6], now, order_id)
    end
    return { 'err', available <= 0 and 'sold_out' or 'insufficient_stock' }
  end
  -- Last: only an order that would be written is turned away for a full outbox.
  if waiting >= outbox_limit then return { 'err', 'overloaded' } end

  local hold_ms = tonumber(p[6])
  local order = { product = p[9], region = p[8], origin = origin, user = user_id, qty = quantity, reservedAt = now,
    home = home }
  redis.call('HINCRBY', KEYS[1], 'available', -quantity)
  p[7] = available - quantity
  if hold_ms > 0 then
    order.status, order.expiresAt = 'reserved', now + hold_ms
    redis.call('HINCRBY', KEYS[1], 'held', quantity)
    redis.call('ZADD', KEYS[3], order.expiresAt, order_id)
  else
    order.status, order.expiresAt = 'confirmed', ''
    redis.call('HINCRBY', KEYS[1], 'sold', quantity)
    mark_ended(keys, order_id, now)
  end
  redis.call('HINCRBY', KEYS[2], user_id, quantity)
  redis.call('HSET', order_key, 'product', order.product, 'region', order.region, 'origin', origin, 'user', user_id,
    'qty', quantity, 'status', order.status, 'reservedAt', now, 'expiresAt', order.expiresAt, 'home', home)
  append_event(KEYS[4], order_id, order, now)
  waiting = waiting + 1
  -- The caller tells the relay about an outbox that was empty (outboxPendingKey, shared/keys.ts).
  return { 'ok', order.status, tostring(order.expiresAt), 0, origin, waiting == 1 and 1 or 0 }
end

local replies = {}
for i = 1, count do
  local a = 2 + (i - 1) * FIELDS
  replies[i] = reserve_one(KEYS[6 + i], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4],
    tonumber(ARGV[a + 5]), ARGV[a + 6] == '1', ARGV[a + 7])
end
return replies
