-- Loads or refreshes a product's rules in this region. Counters start at zero the first time;
-- units arrive only through allocate.lua, so a refresh never moves a unit. Rules older than
-- those the region has (`version`: when they changed in PostgreSQL, ms) are left unloaded: two
-- edits at once each read PostgreSQL and then load here, and the older read may land last.
-- KEYS: product
-- KEYS[1] is one bucket's (core/reservation/buckets.ts); every bucket of a product carries its
-- rules and the number of buckets.
-- ARGV: region, product id, startsAt, endsAt, perUserLimit, maxPerOrder, holdMs, paused, roomMode, roomRate,
--       buckets, version
-- Returns {'ok', allocated, available, held, sold}.
if tonumber(ARGV[12]) >= tonumber(redis.call('HGET', KEYS[1], 'rulesVersion') or '0') then
  redis.call('HSET', KEYS[1], 'region', ARGV[1], 'productId', ARGV[2], 'startsAt', ARGV[3], 'endsAt', ARGV[4],
    'perUserLimit', ARGV[5], 'maxPerOrder', ARGV[6], 'holdMs', ARGV[7], 'paused', ARGV[8], 'roomMode', ARGV[9],
    'roomRate', ARGV[10], 'buckets', ARGV[11], 'rulesVersion', ARGV[12])
end
for _, counter in ipairs({ 'allocated', 'available', 'held', 'sold' }) do
  redis.call('HSETNX', KEYS[1], counter, 0)
end
local c = redis.call('HMGET', KEYS[1], 'allocated', 'available', 'held', 'sold')
return { 'ok', tonumber(c[1]), tonumber(c[2]), tonumber(c[3]), tonumber(c[4]) }
