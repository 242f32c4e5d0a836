-- Changes this region's allocation by `units` (negative gives units back), once per change id:
-- a retry of the same change, even after a crash, changes nothing and answers `replayed` with
-- the counters as they are now. Only available units leave; held and sold ones never do. A
-- refused release is remembered, so a change refused once cannot succeed later under a
-- second driver of the same transfer.
-- KEYS: product, allocation changes
-- ARGV: change id, units
-- Returns {'ok', allocated, available, held, sold, replayed} or {'err', code}.
local change, units = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- A claim may come back once the admin has activated the product here; a release may not.
  if units < 0 then redis.call('HSET', KEYS[2], change, 'refused') end
  return { 'err', 'unknown_product' }
end

local function counters(replayed)
  local c = redis.call('HMGET', KEYS[1], 'allocated', 'available', 'held', 'sold')
  return { 'ok', tonumber(c[1]), tonumber(c[2]), tonumber(c[3]), tonumber(c[4]), replayed }
end

local previous = redis.call('HGET', KEYS[2], change)
if previous == 'refused' then return { 'err', 'insufficient_available' } end
if previous then return counters(1) end

if units < 0 and tonumber(redis.call('HGET', KEYS[1], 'available')) < -units then
  redis.call('HSET', KEYS[2], change, 'refused')
  return { 'err', 'insufficient_available' }
end
redis.call('HINCRBY', KEYS[1], 'allocated', units)
redis.call('HINCRBY', KEYS[1], 'available', units)
redis.call('HSET', KEYS[2], change, units)
return counters(0)
