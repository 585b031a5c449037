-- Cancel a bulk: every recipient still queued is cancelled now (one being sent finishes).
-- ARGV: prefix now bid actor
local bid, actor = ARGV[3], ARGV[4]
local status = redis.call('HGET', K.bulk(bid), 'status')
if not status then
  return reply('not_found')
end
if status ~= 'running' then
  return reply('unchanged', {bulk = bid, status = status})
end
local states = redis.call('HGETALL', K.bulk_state(bid))
local n = 0
for i = 1, #states, 2 do
  if states[i + 1] == 'queued' then
    redis.call('HSET', K.bulk_state(bid), states[i], 'cancelled')
    redis.call('HSET', K.bulk_why(bid), states[i], 'the bulk was cancelled')
    n = n + 1
  end
end
local open = redis.call('HINCRBY', K.bulk(bid), 'open', -n)
redis.call('HSET', K.bulk(bid), 'status', 'cancelled', 'cancelled_by', actor,
           'cancelled_at', NOW)
mark_progress(bid, true)
return reply('cancelled', {bulk = bid, status = 'cancelled', total = open})
