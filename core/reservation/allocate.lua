-- Changes this region's allocation by `units` (negative gives units back), once per change id:
-- a retry of the same change, even after a crash, changes nothing and answers `replayed` with
-- the counters as they are now. Only available units leave; held and sold ones never do. A
-- refused release is remembered, so a change refused once cannot succeed later under a
-- second driver of the same transfer. Each change id is kept with the time it came (ms, in
-- allocation change times) until the retention sweep sees the ledger settled it.
-- Modes: `exact` applies `units` or refuses; `up-to` (a bucket's part of a release,
-- core/reservation/buckets.ts) releases what is available, at most -units, never refused, and
-- `moved` is what it released; `block` applies nothing and remembers the change as refused
-- unless it applied before, so that no driver can apply it afterwards (the admin's abandoned
-- moves, admin/inventory/moves.ts).
-- `not after` (ms on Redis's clock, 0 for none): a change that has not applied yet and runs
-- later does nothing. Change ids are forgotten after the retention, so a call that waited in
-- a stalled core longer than that must not find its id gone and apply a second time.
-- KEYS: product, allocation changes, allocation change times
-- ARGV: change id, units, mode, not after
-- Returns {'ok', allocated, available, held, sold, replayed, moved} or {'err', code}.
local change, units, mode, not_after = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local function remember(value)
  redis.call('HSET', KEYS[2], change, value)
  redis.call('ZADD', KEYS[3], now_ms(), change)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- A claim may come back once the admin has activated the product here; a release may not.
  if units < 0 or mode == 'block' then remember('refused') end
  return { 'err', 'unknown_product' }
end

local function counters(replayed, moved)
  local c = redis.call('HMGET', KEYS[1], 'allocated', 'available', 'held', 'sold')
  return { 'ok', tonumber(c[1]), tonumber(c[2]), tonumber(c[3]), tonumber(c[4]), replayed, moved }
end

local previous = redis.call('HGET', KEYS[2], change)
if previous == 'refused' then return { 'err', 'insufficient_available' } end
if previous then return counters(1, tonumber(previous)) end
if mode == 'block' then
  remember('refused')
  return { 'err', 'insufficient_available' }
end
if not_after > 0 and now_ms() > not_after then return { 'err', 'request_expired' } end

local available = tonumber(redis.call('HGET', KEYS[1], 'available'))
-- (0 - x, not -x: Lua's -0 reaches Redis as "-0", which HINCRBY refuses)
if units < 0 and mode == 'up-to' then units = 0 - math.min(available, 0 - units) end
if units < 0 and available < -units then
  remember('refused')
  return { 'err', 'insufficient_available' }
end
redis.call('HINCRBY', KEYS[1], 'allocated', units)
redis.call('HINCRBY', KEYS[1], 'available', units)
remember(units)
return counters(0, units)
