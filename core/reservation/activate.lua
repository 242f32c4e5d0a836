-- Loads a product's rules and its allocation in this region. On a live product the change in
-- allocation moves `available` by the same amount; held and sold units are never taken away.
-- KEYS: product
-- ARGV: region, product id, startsAt, endsAt, perUserLimit, maxPerOrder, holdMs, paused, allocated
-- Returns {'ok', allocated, available, held, sold} or {'err', code}.
local allocated = tonumber(ARGV[9])
local current = redis.call('HMGET', KEYS[1], 'allocated', 'available', 'held', 'sold')
local available, held, sold = allocated, 0, 0
if current[1] then
  available = tonumber(current[2]) + allocated - tonumber(current[1])
  held, sold = tonumber(current[3]), tonumber(current[4])
  if available < 0 then return { 'err', 'allocation_below_committed' } end
end
redis.call('HSET', KEYS[1], 'region', ARGV[1], 'productId', ARGV[2], 'startsAt', ARGV[3], 'endsAt', ARGV[4],
  'perUserLimit', ARGV[5], 'maxPerOrder', ARGV[6], 'holdMs', ARGV[7], 'paused', ARGV[8],
  'allocated', allocated, 'available', available, 'held', held, 'sold', sold)
return { 'ok', allocated, available, held, sold }
