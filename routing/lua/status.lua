-- A Twilio status callback. Monotonic: duplicates and late arrivals change nothing. A callback
-- that beats the worker's record of the MessageSid is kept aside and applied by sent.lua.
-- ARGV: prefix now sid status error_code
local sid, status, code = ARGV[3], ARGV[4], ARGV[5]
local mid = redis.call('GET', K.sid(sid))
if not mid then
  local early = redis.call('HGET', K.early(sid), 'status')
  if rank(status) > rank(early) then
    redis.call('HSET', K.early(sid), 'status', status, 'error_code', code)
    redis.call('EXPIRE', K.early(sid), 3600)
  end
  return reply('early')
end
if advance_status(mid, status, code) == 1 then
  return reply('changed', {message = mid})
end
return reply('unchanged', {message = mid})
