-- Token buckets: take one token from each of KEYS[1..n], all or none.
-- ARGV: now (seconds, float), then for each key: rate (tokens per second), burst (bucket
-- size), mode. Returns, as a string, 0 when a token was taken from every bucket (go), else
-- the seconds to wait, the longest wait of the buckets that lack a token; then nothing is
-- taken from any bucket (a channel's token is not spent on a post the workspace holds back).
--   mode '' (take): ask again after that many seconds.
--   mode 'queue': a caller this bucket holds back is given its next free slot after the
--     callers already waiting (one per 1/rate s), and not before the other buckets' wait, so
--     that many callers told to wait come back one by one instead of all at once; it asks
--     again then and finds its token.
-- Standalone: no lib.lua. Several keys must share a hash slot (Cluster).
local now = tonumber(ARGV[1])
if not now then
  return redis.error_reply('pacing: now is required')
end
local buckets, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  if not rate or rate <= 0 or not burst or burst < 1 then
    return redis.error_reply('pacing: rate > 0 and burst >= 1 are required for ' .. key)
  end
  local state = redis.call('HMGET', key, 'tokens', 'at', 'tail')
  local b = {key = key, rate = rate, burst = burst, queue = ARGV[3 * i + 1] == 'queue',
             tokens = tonumber(state[1]), at = tonumber(state[2]), tail = tonumber(state[3]) or 0}
  if not b.tokens or not b.at then
    b.tokens, b.at = burst, now
  end
  -- A clock that went back (another host) refills nothing and takes nothing away.
  b.tokens = math.min(burst, b.tokens + math.max(0, now - b.at) * rate)
  b.at = math.max(b.at, now)
  if b.tokens < 1 and not b.queue then
    wait = math.max(wait, (1 - b.tokens) / rate)
  end
  buckets[i] = b
end
-- A queue bucket's slot comes after the plain buckets' wait: the caller comes back then.
for _, b in ipairs(buckets) do
  if b.tokens < 1 and b.queue then
    local slot = math.max((1 - b.tokens) / b.rate, b.tail - now, wait)
    b.tail = now + slot + 1 / b.rate
    wait = math.max(wait, slot)
  end
end
for _, b in ipairs(buckets) do
  if wait == 0 then
    b.tokens = b.tokens - 1
  end
  redis.call('HSET', b.key, 'tokens', tostring(b.tokens), 'at', tostring(b.at))
  local idle = b.burst / b.rate + 1
  if b.tail > now then
    redis.call('HSET', b.key, 'tail', tostring(b.tail))
    idle = idle + (b.tail - now)
  end
  -- A full bucket with nobody waiting is the same as no bucket: let idle keys go.
  redis.call('PEXPIRE', b.key, math.ceil(idle * 1000))
end
return tostring(wait)
