-- After one bulk recipient's send: accepted (sid), failed for good (21610 records the
-- opt-out), or 'retry' (a 429/5xx: back to the queue, the chunk is retried with backoff).
-- ARGV: prefix now bid index sid status error_code reason sid_ttl
local bid, idx, sid, status, code, why = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local ttl = tonumber(ARGV[9])
if redis.call('HGET', K.bulk_state(bid), idx) ~= 'sending' then
  return reply('ignored')
end
if status == 'retry' then
  redis.call('HSET', K.bulk_state(bid), idx, 'queued')
  return reply('requeued')
end
local mid = redis.call('HGET', K.bulk_msg(bid), idx)
if sid ~= '' then
  status, code = record_sid(mid, sid, status, code, ttl)
  redis.call('HSET', K.bulk_state(bid), idx, 'sent')
else
  redis.call('HSET', K.bulk_state(bid), idx, 'failed')
  redis.call('HSET', K.bulk_why(bid), idx, why)
  redis.call('HSET', K.msg(mid), 'failure_reason', why)
  if code == '21610' then
    local cid = redis.call('HGET', K.msg(mid), 'contact')
    redis.call('HSETNX', K.contact(cid), 'optout:' .. redis.call('HGET', K.bulk(bid),
                                                                 'campaign_addr'), NOW)
  end
end
advance_status(mid, status, code)
local open = redis.call('HINCRBY', K.bulk(bid), 'open', -1)
if open <= 0 then
  if redis.call('HGET', K.bulk(bid), 'status') == 'running' then
    redis.call('HSET', K.bulk(bid), 'status', 'done', 'finished_at', NOW)
  end
  mark_progress(bid, true)
end
return reply(redis.call('HGET', K.bulk_state(bid), idx))
