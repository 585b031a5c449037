-- Raise a conversation for supervisors: it is served first from any queue it waits in, and the
-- supervisors' channel is told.
-- ARGV: prefix now vid actor type note
local vid, actor, etype, note = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local conv = K.conv(vid)
local status = redis.call('HGET', conv, 'status')
if not status then
  return reply('not_found')
end
if status == 'closed' then
  return reply('closed')
end
redis.call('HSET', conv, 'priority', 'escalated', 'escalation', etype)
local q = redis.call('HGET', conv, 'queue')
if q and q ~= '' then
  enqueue_at(vid, q)  -- re-score: escalated first
end
notice(vid, 'type', 'escalated', 'actor', actor, 'escalation', etype, 'note', note)
mark_card(vid)
mark('escalation', vid)
return reply('escalated')
