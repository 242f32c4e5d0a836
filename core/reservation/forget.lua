-- The retention sweep: forgets ended orders that PostgreSQL holds, leaving a tombstone of each
-- (common.lua) so that a late retry still gets its outcome and reserves nothing. An order is
-- forgotten only if its status in Redis is the one PostgreSQL holds: a later event that the
-- worker has not stored yet keeps it. Called with a small batch, so it never blocks the region.
-- KEYS: product, users, holds, outbox, ended
-- ARGV: order id, status PostgreSQL holds, … (pairs), order key prefix, tombstone prefix,
--       tombstone generation ms
-- Returns the order ids forgotten.
local keys = product_keys()
local now = now_ms()
local forgotten, ended = {}, {}
for i = 1, #ARGV - 3, 2 do
  local order_id, stored = ARGV[i], ARGV[i + 1]
  local key = keys.order_prefix .. order_id
  local status = redis.call('HGET', key, 'status')
  if not status then
    redis.call('ZREM', keys.ended, order_id)
  elseif status == stored and status ~= 'reserved' then
    ended[#ended + 1] = { order_id, status }
    redis.call('DEL', key)
    redis.call('ZREM', keys.ended, order_id)
    forgotten[#forgotten + 1] = order_id
  end
end
write_tombstones(keys, ended, now)
return forgotten
