-- Expires up to `limit` holds of one product whose time is up. Each runs atomically with its
-- check, so two sweepers never return the same units twice.
-- KEYS: product, users, holds, outbox, ended
-- ARGV: limit, order key prefix, tombstone prefix, tombstone generation ms
-- Returns the number of holds expired.
local keys = product_keys()
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', keys.holds, '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local expired = 0
for _, order_id in ipairs(due) do
  local order = load_order(keys.order_prefix .. order_id)
  if order and order.status == 'reserved' then
    release_hold(keys, order_id, order, 'expired', now)
    expired = expired + 1
  else
    redis.call('ZREM', keys.holds, order_id)
  end
end
return expired
