-- The worker's outcome for the message at the head of a conversation's Twilio outbox:
-- accepted by Twilio (sid given) or failed for good (sid empty, error code and reason given).
-- Answers the message's status and the outbox's next head ('' when it is empty), so the
-- worker need not read the outbox again.
-- ARGV: prefix now mid vid sid status error_code sid_ttl failure_reason
local mid, vid, sid, status, code, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local why = ARGV[9]
if sid ~= '' then
  status, code = record_sid(mid, sid, status, code, ttl)
end
if why ~= '' then
  redis.call('HSET', K.msg(mid), 'failure_reason', why)
end
if code == '21610' then  -- Twilio: the customer has opted out (STOP) of this number
  local c = redis.call('HMGET', K.conv(vid), 'contact', 'campaign_addr')
  if c[1] then
    redis.call('HSETNX', K.contact(c[1]), 'optout:' .. c[2], NOW)
  end
end
advance_status(mid, status, code)
mark('status', mid)
if redis.call('LINDEX', K.outbox(vid, 'twilio'), 0) == mid then
  redis.call('LPOP', K.outbox(vid, 'twilio'))
end
return reply(redis.call('HGET', K.msg(mid), 'status'),
             {next = redis.call('LINDEX', K.outbox(vid, 'twilio'), 0) or ''})
