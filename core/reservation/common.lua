-- Prepended to every script in this folder but activate.lua, after now_ms() (REDIS_CLOCK,
-- shared/lua.ts). KEYS and ARGV belong to the script that includes it.

-- Every order script takes the product's keys first (KEYS 1–5: product, users, holds, outbox,
-- ended) and the order key prefix, the tombstone prefix and the tombstones' generation (ms) as
-- its last three ARGV.
local function product_keys()
  local n = #ARGV
  return {
    product = KEYS[1], users = KEYS[2], holds = KEYS[3], outbox = KEYS[4], ended = KEYS[5],
    order_prefix = ARGV[n - 2], tombstone_prefix = ARGV[n - 1], generation_ms = tonumber(ARGV[n]),
  }
end

local function load_order(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local order = {}
  for i = 1, #flat, 2 do order[flat[i]] = flat[i + 1] end
  return order
end

-- The order event (shared/events.ts), appended to the outbox for the relay to publish. An order
-- without a home (reserved for an edge that did not name one, or before orders had one) leaves
-- `homeRegion` out: its readers fall back to the hash of the user id.
local function append_event(outbox, order_id, order, at)
  local expires_at = cjson.null
  if order.expiresAt ~= '' then expires_at = tonumber(order.expiresAt) end
  local home = nil
  if order.home ~= '' then home = order.home end
  redis.call('XADD', outbox, '*', 'order', order_id, 'event', cjson.encode({
    v = 1, type = order.status, orderId = order_id, productId = order.product,
    region = order.region, originRegion = order.origin, userId = order.user,
    quantity = tonumber(order.qty), reservedAt = tonumber(order.reservedAt),
    expiresAt = expires_at, at = at, homeRegion = home,
  }))
end

-- An order that ended (confirmed, cancelled, expired) waits in `keys.ended` for the retention
-- sweep (forget.lua), which removes it once PostgreSQL holds it and leaves a tombstone.
local function mark_ended(keys, order_id, now)
  redis.call('ZADD', keys.ended, now, order_id)
end

-- Tombstones: the outcome of a forgotten order, kept for at least one generation (the
-- idempotency window, keys.generation_ms) so that a late retry still gets it and reserves
-- nothing. A generation of a product keeps them in up to 4,096 strings, picked by the id's
-- first three hex digits; each string is a run of 17-byte records, the id's 16 bytes and a
-- letter for the outcome: 17 bytes an order, where a hash per order costs 250.
local TOMBSTONE_SIZE = 17
local TOMBSTONE_LETTER = { confirmed = 'C', cancelled = 'X', expired = 'E' }
local TOMBSTONE_STATUS = { C = 'confirmed', X = 'cancelled', E = 'expired' }

-- The id's tombstone shard (its first three hex digits) and its 16 bytes.
local function tombstone_id(order_id)
  local hex = string.lower((string.gsub(order_id, '-', '')))
  return string.sub(hex, 1, 3), struct.pack('>I4I4I4I4', tonumber(string.sub(hex, 1, 8), 16),
    tonumber(string.sub(hex, 9, 16), 16), tonumber(string.sub(hex, 17, 24), 16), tonumber(string.sub(hex, 25, 32), 16))
end

local function tombstone_key(keys, generation, shard)
  return keys.tombstone_prefix .. generation .. ':' .. shard
end

-- The outcome a tombstone keeps for the order (this generation or the one before), or nil.
local function tombstone(keys, order_id, now)
  local shard, bytes = tombstone_id(order_id)
  local generation = math.floor(now / keys.generation_ms)
  for g = generation, generation - 1, -1 do
    local records = redis.call('GET', tombstone_key(keys, g, shard))
    local at = records and string.find(records, bytes, 1, true)
    -- Only a match at a record's start counts: 16 bytes may also straddle two records.
    while at and (at - 1) % TOMBSTONE_SIZE ~= 0 do at = string.find(records, bytes, at + 1, true) end
    if at then return TOMBSTONE_STATUS[string.sub(records, at + 16, at + 16)] end
  end
  return nil
end

-- Writes the tombstones of ended orders ({order id, status} each). Each string is written
-- whole (GET, then SET of exactly its size, where APPEND would leave room to grow) and lives
-- until its generation and the next are over.
local function write_tombstones(keys, ended, now)
  local generation = math.floor(now / keys.generation_ms)
  local added = {}
  for _, order in ipairs(ended) do
    local shard, bytes = tombstone_id(order[1])
    local key = tombstone_key(keys, generation, shard)
    added[key] = (added[key] or '') .. bytes .. TOMBSTONE_LETTER[order[2]]
  end
  for key, records in pairs(added) do
    redis.call('SET', key, (redis.call('GET', key) or '') .. records, 'PXAT', (generation + 2) * keys.generation_ms)
  end
end

-- Ends a hold as 'cancelled' or 'expired': its units go back to available, and to the
-- user's allowance. Called only on a reserved order, inside one script, so exactly once.
local function release_hold(keys, order_id, order, reason, now)
  local qty = tonumber(order.qty)
  redis.call('HINCRBY', keys.product, 'available', qty)
  redis.call('HINCRBY', keys.product, 'held', -qty)
  if redis.call('HINCRBY', keys.users, order.user, -qty) <= 0 then
    redis.call('HDEL', keys.users, order.user)
  end
  redis.call('ZREM', keys.holds, order_id)
  redis.call('HSET', keys.order_prefix .. order_id, 'status', reason)
  order.status = reason
  append_event(keys.outbox, order_id, order, now)
  mark_ended(keys, order_id, now)
end

-- For confirm and cancel: the order if it is still a live hold, or else the reply to give.
-- Repeating the action is harmless (`repeated` is the status it leaves). A hold past its
-- expiry is expired here, its units going back, and answered with `late_code`. A forgotten
-- order answers from its tombstone.
local function live_hold(keys, order_id, repeated, late_code, now)
  local order = load_order(keys.order_prefix .. order_id)
  if not order then
    local status = tombstone(keys, order_id, now)
    if not status then return nil, { 'err', 'not_found', '' } end
    order = { status = status, expiresAt = '' }
  end
  if order.status == repeated then return nil, { 'ok', order.status, order.expiresAt } end
  if order.status ~= 'reserved' then return nil, { 'err', 'order_not_reserved', order.status } end
  if now >= tonumber(order.expiresAt) then
    release_hold(keys, order_id, order, 'expired', now)
    return nil, { 'err', late_code, order.status }
  end
  return order
end
