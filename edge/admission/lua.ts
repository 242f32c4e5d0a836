/**
 * The admission scripts, run in the buyer's home-region Redis. Kept as strings beside their
 * caller (as @upstash/ratelimit keeps its own) so that Workers, Bun and Deno bundle them alike.
 *
 * An Idempotency-Key's record is a hash:
 *   fp      fingerprint of the request (method, path, body)
 *   state   pending | done
 *   token   which request holds the lease (a random id per request)
 *   lease   ms until which that request may still be running; 0 once it let go
 *   tried   regions asked to reserve the order, in order; only the last may hold it
 *   sent    ms when the last region was last asked
 *   status, type, body   the stored answer, once done
 * Times come from Redis's clock, so every edge agrees on them.
 */
import { luaScript, REDIS_CLOCK } from "../../shared/lua.ts";

const NOW = `${REDIS_CLOCK}
local now = now_ms()`;

/**
 * Claims an Idempotency-Key and takes the buyer's allowance for the product, atomically; notes
 * where the order is about to be served (the region named first), so that it can be found by
 * its id before any core has answered.
 * KEYS: record, allowance, orders
 * ARGV: fingerprint, token, lease ms, keep s, order id, quantity, per-user limit, first region
 *       (empty: none yet, a waiting room decides), allowance expiry (ms since the epoch), product id
 * Returns {'new', now} | {'replay', status, type, body} | {'in_flight', ms left} | {'reused'} |
 *         {'resume', tried, sent, now} | {'limit', units already counted}
 */
export const ADMIT = luaScript(
  `${NOW}
local record, allowance, orders = KEYS[1], KEYS[2], KEYS[3]
local fp, token, lease_ms, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local r = redis.call('HMGET', record, 'fp', 'state', 'lease', 'tried', 'sent', 'status', 'type', 'body')
if r[1] then
  if r[1] ~= fp then return { 'reused' } end
  if r[2] == 'done' then return { 'replay', r[6], r[7], r[8] } end
  local lease = tonumber(r[3]) or 0
  if lease > now then return { 'in_flight', lease - now } end
  -- The request that held it finished without an answer (5xx, timeout) or died: take over.
  redis.call('HSET', record, 'token', token, 'lease', now + lease_ms)
  return { 'resume', r[4] or '', tonumber(r[5]) or 0, now }
end

local order_id, quantity, limit = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
-- A negative quantity would lower what the other orders count: never here.
if quantity < 1 then return redis.error_reply('ERR quantity must be at least 1') end
local counted = 0
local held = redis.call('HGETALL', allowance)
for i = 1, #held, 2 do
  if held[i] ~= order_id then counted = counted + tonumber(held[i + 1]) end
end
if counted + quantity > limit then return { 'limit', counted } end

redis.call('HSET', allowance, order_id, quantity)
-- Set the first time; later only moved later (a sale the admin extended).
redis.call('PEXPIREAT', allowance, ARGV[9], 'NX')
redis.call('PEXPIREAT', allowance, ARGV[9], 'GT')
redis.call('HSET', record, 'fp', fp, 'state', 'pending', 'token', token, 'lease', now + lease_ms, 'tried', ARGV[8], 'sent', now)
redis.call('EXPIRE', record, keep)
-- Behind a waiting room no region is named until its room admits the order (TRY_REGION then).
if ARGV[8] ~= '' then
  redis.call('HSET', orders, order_id, ARGV[8] .. ' ' .. ARGV[10])
  redis.call('EXPIRE', orders, keep)
end
return { 'new', now }`,
  { keys: 3 },
);

/**
 * Names the region about to be asked, before it is asked (a region asked again moves to the end),
 * in the record and in the note of where the order is served.
 * KEYS: record, orders
 * ARGV: token, region, order id, product id, keep s (for the orders note)
 * Returns the time it was named (the request must not reserve past it + MAX_SKEW_MS), or 0 when
 * another request holds the lease now.
 */
export const TRY_REGION = luaScript(
  `${NOW}
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local tried = {}
for region in string.gmatch(redis.call('HGET', KEYS[1], 'tried') or '', '[^,]+') do
  if region ~= ARGV[2] then tried[#tried + 1] = region end
end
tried[#tried + 1] = ARGV[2]
redis.call('HSET', KEYS[1], 'tried', table.concat(tried, ','), 'sent', now)
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2] .. ' ' .. ARGV[4])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return now`,
  { keys: 2 },
);

/**
 * Ends a request's hold on its key.
 * KEYS: record, allowance, orders
 * ARGV: token, outcome, order id, keep s (for the orders note), status, content type, body, region,
 *       product id, sent to restore (unsettled; empty to keep)
 *   served     a region holds the order: store the answer, note where it is served
 *   refused    no region holds it: store the answer, give the allowance back, drop the note
 *   unsettled  a region may hold it (5xx, timeout): let go of the lease, keep the allowance;
 *              a retry asks that region first. A re-ask that the region answered cannot reserve
 *              later, so its send time is taken back (`sent` to restore).
 *   forget     nothing was asked of any region (rate limited): as if the request never came
 * Returns 1, or 0 when another request holds the lease now (this request's answer may then
 * differ from the one stored: only after a pause longer than the lease).
 */
export const COMPLETE = luaScript(
  `
local record, allowance, orders = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', record, 'token') ~= ARGV[1] then return 0 end
local outcome, order_id, keep = ARGV[2], ARGV[3], tonumber(ARGV[4])
if outcome == 'unsettled' then
  redis.call('HSET', record, 'lease', 0)
  if ARGV[10] ~= '' then redis.call('HSET', record, 'sent', ARGV[10]) end
  return 1
end
if outcome == 'forget' then
  redis.call('DEL', record)
  redis.call('HDEL', allowance, order_id)
  redis.call('HDEL', orders, order_id)
  return 1
end
if outcome == 'refused' then
  redis.call('HDEL', allowance, order_id)
  redis.call('HDEL', orders, order_id)
end
if outcome == 'served' then
  redis.call('HSET', orders, order_id, ARGV[8] .. ' ' .. ARGV[9])
  redis.call('EXPIRE', orders, keep)
end
-- The record keeps the expiry its claim gave it: a day from the first try.
redis.call('HSET', record, 'state', 'done', 'lease', 0, 'status', ARGV[5], 'type', ARGV[6], 'body', ARGV[7])
return 1`,
  { keys: 3 },
);
