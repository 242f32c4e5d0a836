/**
 * The waiting room's scripts, run in the Redis of the region whose units the room guards (a
 * string beside its caller, as edge/admission/lua.ts, so every runtime bundles it).
 *
 * A room (shared/keys.ts roomKeys) is a queue of tickets in order of arrival (an arrival number), a token bucket
 * that admits the queue's head at the room's rate, and the admissions not yet used: each
 * reserves the units its ticket asks for until it orders or its window passes, so the room
 * never admits more buyers than the region's units can serve. Nobody is ever taken out of the
 * queue: a ticket's place is fixed, and only `admitted` (how many of the queue's head are in)
 * grows, so a buyer's position only moves forward. Times come from Redis's clock.
 *
 * A buyer takes at most as many places as units they may buy (`buyers`: places per buyer). A
 * place counts while its ticket waits, is admitted or ordered; one that ends without an order
 * (shed, lapsed, refused) gives it back. Beside a ticket's units, its field `<ticket>:buyer` in
 * `tickets` holds '1 <buyer>' while its place counts and '0 <buyer>' once given back, so each
 * change happens once per ticket whatever the order in which the ends are told. A ticket's own
 * field holds its units until its admitted order is answered: then `used` (ordered) or `ended`
 * (refused: it reads `expired`, and is not let in again).
 *
 * KEYS common to all three: queue, state, admits, tickets, buyers.
 * ARGV common to ENTER and LOOK: rate (admissions/s), burst, window ms, available (the region's free
 * units as the edge last saw them; -1 when unknown), opens (ms: nobody is admitted before).
 * ENTER and LOOK return {state, a, b, c}:
 *   {'admitted', window ends (ms), now, waiting}   {'waiting', ahead, now, waiting}
 *   {'sold_out', ahead, now, waiting}              {'lobby', 0, now, waiting}
 *   {'expired', 0, now, waiting}  {'used', 0, now, waiting}  {'unknown', 0, now, waiting}
 *   {'shed', 0, now, waiting}: ENTER only, for a room that keeps no queue
 *   {'reused', 0, now, 0}: ENTER only, the ticket took its place asking for other units
 *   {'limit', 0, now, 0}: ENTER only, the buyer holds as many places as they may buy units
 */
import { luaScript, REDIS_CLOCK } from "../../shared/lua.ts";

/** Counts a ticket's place among its buyer's places, or no longer; once per change. */
const COUNT = `local function count_place(tickets, buyers, ticket, counts)
  local field = ticket .. ':buyer'
  local was = redis.call('HGET', tickets, field)
  if not was or (string.sub(was, 1, 1) == '1') == counts then return end
  local buyer = string.sub(was, 3)
  redis.call('HSET', tickets, field, (counts and '1 ' or '0 ') .. buyer)
  if redis.call('HINCRBY', buyers, buyer, counts and 1 or -1) <= 0 then redis.call('HDEL', buyers, buyer) end
end`;

const SETTLE = `${COUNT}
${REDIS_CLOCK}
local now = now_ms()
local queue, state, admits, tickets, buyers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local rate, burst, window_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local available, opens = tonumber(ARGV[4]), tonumber(ARGV[5])
local KEEP_MS = 86400000

local s = redis.call('HMGET', state, 'tokens', 'at', 'admitted', 'outstanding')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
local admitted = tonumber(s[3]) or 0
local outstanding = tonumber(s[4]) or 0

-- Admissions whose window passed unused give their units and their buyer's place back.
local lapsed = redis.call('ZRANGEBYSCORE', admits, '-inf', now - window_ms)
for _, ticket in ipairs(lapsed) do
  outstanding = outstanding - (tonumber(redis.call('HGET', tickets, ticket)) or 0)
  count_place(tickets, buyers, ticket, false)
end
if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', admits, '-inf', now - window_ms) end

local function settle()
  local queued = redis.call('ZCARD', queue)
  if now >= opens then
    tokens = math.min(burst, tokens + math.max(0, now - math.max(at, opens)) * rate / 1000)
    local room = math.min(math.floor(tokens), queued - admitted)
    if room > 0 then
      -- The queue's head, in order, while the bucket and the units last (first come, first served:
      -- a buyer asking for more than is left is not overtaken).
      -- A head asking for more than is left still gets its try when no admission holds units
      -- aside (the core answers for what is left): waiting for units that may never come would
      -- stall everyone behind it.
      for _, ticket in ipairs(redis.call('ZRANGE', queue, admitted, admitted + room - 1)) do
        local units = tonumber(redis.call('HGET', tickets, ticket)) or 0
        if available == 0 or (available > 0 and outstanding > 0 and outstanding + units > available) then break end
        if not redis.call('ZSCORE', admits, ticket) then
          redis.call('ZADD', admits, now, ticket)
          outstanding = outstanding + units
        end
        admitted = admitted + 1
        tokens = tokens - 1
      end
    end
  end
  redis.call('HSET', state, 'tokens', tokens, 'at', now, 'admitted', admitted, 'outstanding', outstanding)
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, KEEP_MS) end
  return queued - admitted
end

local function verdict(ticket, waiting)
  local rank = redis.call('ZRANK', queue, ticket)
  if not rank then return { 'unknown', 0, now, waiting } end
  if redis.call('HGET', tickets, ticket) == 'used' then return { 'used', 0, now, waiting } end
  if rank < admitted then
    local since = redis.call('ZSCORE', admits, ticket)
    if since then return { 'admitted', tonumber(since) + window_ms, now, waiting } end
    return { 'expired', 0, now, waiting }
  end
  if now < opens then return { 'lobby', 0, now, waiting } end
  if available == 0 then return { 'sold_out', rank - admitted, now, waiting } end
  return { 'waiting', rank - admitted, now, waiting }
end`;

/**
 * Takes a place in the queue (a ticket keeps the place it first took: retries are safe), then
 * admits what the bucket allows and says where the ticket stands. A room that keeps no queue
 * (`shed`) gives the place back at once when the ticket is not admitted: nobody behind it was
 * admitted either, so no admitted head moves, and places only move forward; the buyer's count
 * goes back with it.
 * KEYS: the common five.
 * ARGV: the common five, ticket, units, lobby draw (0 ≤ x < 1: the place before `opens`),
 *       keep ('1': queue; '0': shed), buyer, most places a buyer may take
 */
export const ENTER = luaScript(
  `${SETTLE}
local ticket, units, draw = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
-- One Idempotency-Key, one order: the same ticket asking for other units is another request.
local had = redis.call('HGET', tickets, ticket)
if tonumber(had) and tonumber(had) ~= units then return { 'reused', 0, now, 0 } end
if not redis.call('ZSCORE', queue, ticket) then
  -- A buyer holds at most as many places as units they may buy: no account takes places without end.
  if redis.call('HINCRBY', buyers, ARGV[10], 1) > tonumber(ARGV[11]) then
    redis.call('HINCRBY', buyers, ARGV[10], -1)
    return { 'limit', 0, now, 0 }
  end
  -- Places are arrival numbers, strictly increasing: no two tickets share one, so the queue's
  -- order never changes under an admitted head. Before the start the lobby's places are drawn at
  -- random, all ahead of any later arrival: arriving early by a millisecond wins nothing. Once
  -- anyone was admitted (a start moved later, a queue turned lobby), places are arrivals again.
  local place = redis.call('HINCRBY', state, 'arrivals', 1)
  if now < opens and admitted == 0 then place = draw - 1 end
  redis.call('ZADD', queue, place, ticket)
  redis.call('HSET', tickets, ticket, units, ticket .. ':buyer', '1 ' .. ARGV[10])
end
local waiting = settle()
local standing = verdict(ticket, waiting)
if ARGV[9] == '0' and standing[1] == 'waiting' then
  redis.call('ZREM', queue, ticket)
  count_place(tickets, buyers, ticket, false)
  redis.call('HDEL', tickets, ticket, ticket .. ':buyer')
  return { 'shed', 0, now, waiting - 1 }
end
return standing`,
  { keys: 5 },
);

/** Where a ticket stands, after admitting what the bucket allows. KEYS: the common five; ARGV: ENTER's first six. */
export const LOOK = luaScript(
  `${SETTLE}
local waiting = settle()
return verdict(ARGV[6], waiting)`,
  { keys: 5 },
);

/**
 * An admitted ticket's order was answered: its units are no longer reserved by the room. If it
 * ordered, the ticket is `used` and its place counts among its buyer's places; if not (refused),
 * the ticket is `ended` (it reads `expired`: its admission ended without an order, and it is not
 * let in again) and its place goes back. The last answer told stands: a refused retry of an order
 * ends it, an order that lands after its admission lapsed or ended is used after all. A ticket
 * still waiting in the queue is left as it is: it keeps its place, and its place counts.
 * KEYS: the common five. ARGV: ticket, ordered ('1' or '0').
 * Returns 1 if it was admitted and unused (its units went back), else 0.
 */
export const USE = luaScript(
  `${COUNT}
local queue, state, admits, tickets, buyers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ticket, ordered = ARGV[1], ARGV[2] == '1'
local rank = redis.call('ZRANK', queue, ticket)
if not rank or rank >= (tonumber(redis.call('HGET', state, 'admitted')) or 0) then return 0 end
local was = redis.call('HGET', tickets, ticket)
local admitted = redis.call('ZREM', admits, ticket) == 1
if admitted then redis.call('HINCRBY', state, 'outstanding', -(tonumber(was) or 0)) end
if ordered or admitted or was == 'used' then
  redis.call('HSET', tickets, ticket, ordered and 'used' or 'ended')
  count_place(tickets, buyers, ticket, ordered)
end
return admitted and 1 or 0`,
  { keys: 5 },
);
