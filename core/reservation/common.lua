-- Prepended to every script in this folder. KEYS and ARGV belong to the script that includes it.

-- Redis's own clock, so that every core of a region agrees on "now" (ms).
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function load_order(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local order = {}
  for i = 1, #flat, 2 do order[flat[i]] = flat[i + 1] end
  return order
end

-- The order event (shared/events.ts), appended to the outbox for the relay to publish.
local function append_event(outbox, order_id, order, at)
  local expires_at = cjson.null
  if order.expiresAt ~= '' then expires_at = tonumber(order.expiresAt) end
  redis.call('XADD', outbox, '*', 'order', order_id, 'event', cjson.encode({
    v = 1, type = order.status, orderId = order_id, productId = order.product,
    region = order.region, originRegion = order.origin, userId = order.user,
    quantity = tonumber(order.qty), reservedAt = tonumber(order.reservedAt),
    expiresAt = expires_at, at = at,
  }))
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
end

-- For confirm and cancel: the order if it is still a live hold, or else the reply to give.
-- Repeating the action is harmless (`repeated` is the status it leaves). A hold past its
-- expiry is expired here, its units going back, and answered with `late_code`.
local function live_hold(keys, order_id, repeated, late_code, now)
  local order = load_order(keys.order_prefix .. order_id)
  if not order then return nil, { 'err', 'not_found', '' } end
  if order.status == repeated then return nil, { 'ok', order.status, order.expiresAt } end
  if order.status ~= 'reserved' then return nil, { 'err', 'order_not_reserved', order.status } end
  if now >= tonumber(order.expiresAt) then
    release_hold(keys, order_id, order, 'expired', now)
    return nil, { 'err', late_code, order.status }
  end
  return order
end
