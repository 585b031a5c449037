-- Raise a conversation for supervisors: it is served first from any queue it waits in.
-- ARGV: prefix now vid actor type note
local vid, actor, etype, note = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local conv = P .. 'conv:' .. vid
local status = redis.call('HGET', conv, 'status')
if not status then
  return 'not_found'
end
if status == 'closed' then
  return 'closed'
end
redis.call('HSET', conv, 'priority', 'escalated', 'escalation', etype)
local q = redis.call('HGET', conv, 'queue')
if q and q ~= '' then
  enqueue_at(vid, q)  -- re-score: escalated first
end
event(vid, 'type', 'escalated', 'actor', actor, 'escalation', etype, 'note', note)
redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
redis.call('ZADD', P .. 'pending', NOW, 'escalation:' .. vid)
return 'escalated'
