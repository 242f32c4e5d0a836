-- Expires up to `limit` holds of one product whose time is up. Each runs atomically with its
-- check, so two sweepers never return the same units twice.
-- KEYS: product, users, holds, outbox
-- ARGV: limit, order key prefix
-- Returns the number of holds expired.
local keys = { product = KEYS[1], users = KEYS[2], holds = KEYS[3], outbox = KEYS[4], order_prefix = ARGV[2] }
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local expired = 0
for _, order_id in ipairs(due) do
  local order = load_order(ARGV[2] .. order_id)
  if order and order.status == 'reserved' then
    release_hold(keys, order_id, order, 'expired', now)
    expired = expired + 1
  else
    redis.call('ZREM', KEYS[3], order_id)
  end
end
return expired
