-- Expires up to `limit` holds of one product whose time is up. Each runs atomically with its
-- check, so two sweepers never return the same units twice.
-- KEYS: product, users, holds, outbox, ended
-- ARGV: limit, order key prefix, tombstone prefix, tombstone generation ms
-- Returns {holds expired, when the next may fall due (ms; -1: none under these rules)}: the
-- earliest hold left, or a hold taken now, whichever comes first.
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

local next_due = -1
local hold_ms = tonumber(redis.call('HGET', keys.product, 'holdMs') or '0')
if hold_ms > 0 then next_due = now + hold_ms end
local first = redis.call('ZRANGE', keys.holds, 0, 0, 'WITHSCORES')
if first[2] and (next_due < 0 or tonumber(first[2]) < next_due) then next_due = tonumber(first[2]) end
return { expired, next_due }
