-- A token bucket: take one token from KEYS[1] if there is one.
-- ARGV: rate (tokens per second), burst (bucket size), now (seconds, float).
-- Returns, as a string, 0 when a token was taken (go), else the seconds until one will be
-- there (nothing taken: ask again then). Standalone: no lib.lua, one key, Cluster-safe.
local key = KEYS[1]
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if not rate or rate <= 0 or not burst or burst < 1 or not now then
  return redis.error_reply('pacing: rate > 0, burst >= 1 and now are required')
end
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
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
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
-- A full bucket is the same as no bucket: let idle keys go.
redis.call('PEXPIRE', key, math.ceil((burst / rate + 1) * 1000))
return tostring(wait)
