-- A token bucket: take one token from KEYS[1] if there is one.
-- ARGV: rate (tokens per second), burst (bucket size), now (seconds, float), [mode].
-- Returns, as a string, 0 when a token was taken (go), else the seconds to wait.
--   mode '' (take): nothing is taken; ask again after that many seconds.
--   mode 'queue': the caller is given the next free slot after the callers already waiting
--     (one per 1/rate s), so that many callers told to wait come back one by one instead of
--     all at once; it asks again then and finds its token.
-- Standalone: no lib.lua, one key, Cluster-safe.
local key = KEYS[1]
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local queue = ARGV[4] == 'queue'
if not rate or rate <= 0 or not burst or burst < 1 or not now then
  return redis.error_reply('pacing: rate > 0, burst >= 1 and now are required')
end
local state = redis.call('HMGET', key, 'tokens', 'at', 'tail')
local tokens, at, tail = tonumber(state[1]), tonumber(state[2]), tonumber(state[3]) or 0
if not tokens or not at then
  tokens, at = burst, now
end
-- A clock that went back (another host) refills nothing and takes nothing away.
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
at = math.max(at, now)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
  if queue then
    wait = math.max(wait, tail - now)
    tail = now + wait + 1 / rate
  end
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
local idle = burst / rate + 1
if tail > now then
  redis.call('HSET', key, 'tail', tostring(tail))
  idle = idle + (tail - now)
end
-- A full bucket with nobody waiting is the same as no bucket: let idle keys go.
redis.call('PEXPIRE', key, math.ceil(idle * 1000))
return tostring(wait)
