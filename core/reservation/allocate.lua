-- Changes this region's allocation by `units` (negative gives units back), once per change id:
-- a retry of the same change, even after a crash, answers as the first call did. Only
-- available units leave; held and sold ones never do. A refusal is remembered too, so a
-- change refused once cannot succeed later under a second driver of the same transfer.
-- KEYS: product, allocation changes
-- ARGV: change id, units
-- Returns {'ok', allocated, available, held, sold, replayed} or {'err', code}.
local change, units = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'err', 'unknown_product' } end

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
