-- A Twilio status callback. Monotonic: duplicates and late arrivals change nothing. A callback
-- that beats the worker's record of the MessageSid is kept aside and applied by sent.lua.
-- ARGV: prefix now sid status error_code
local sid, status, code = ARGV[3], ARGV[4], ARGV[5]
local mid = redis.call('GET', P .. 'sid:' .. sid)
if not mid then
  local early = redis.call('HGET', P .. 'early:' .. sid, 'status')
  if rank(status) > rank(early) then
    redis.call('HSET', P .. 'early:' .. sid, 'status', status, 'error_code', code)
    redis.call('EXPIRE', P .. 'early:' .. sid, 3600)
  end
  return {'early', ''}
end
if advance_status(mid, status, code) == 1 then
  return {'changed', mid}
end
return {'unchanged', mid}
