-- The worker's outcome for the message at the head of a conversation's Twilio outbox:
-- accepted by Twilio (sid given) or failed for good (sid empty, error code given).
-- ARGV: prefix now mid vid sid status error_code sid_ttl
local mid, vid, sid, status, code, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
if sid ~= '' then
  redis.call('HSET', P .. 'msg:' .. mid, 'provider_sid', sid, 'sent_at', NOW)
  redis.call('SET', P .. 'sid:' .. sid, mid, 'EX', ttl)
  local early = redis.call('HMGET', P .. 'early:' .. sid, 'status', 'error_code')
  if early[1] and rank(early[1]) > rank(status) then
    status, code = early[1], early[2]
  end
  redis.call('DEL', P .. 'early:' .. sid)
end
advance_status(mid, status, code)
if redis.call('LINDEX', P .. 'conv:' .. vid .. ':to_twilio', 0) == mid then
  redis.call('LPOP', P .. 'conv:' .. vid .. ':to_twilio')
end
return redis.call('HGET', P .. 'msg:' .. mid, 'status')
