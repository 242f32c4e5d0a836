-- The relay lease of a region: one core's relay publishes at a time (two would publish the same
-- entries, and out of order). Taken when free or already held by ARGV[1]; held for ARGV[2] ms.
-- KEYS[1] the lease. Returns 1 if ARGV[1] holds it now, else 0.
local holder = redis.call("GET", KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
