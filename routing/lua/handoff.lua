-- The bot hands a conversation to people: to an agent, a department, or 'route' (rules 1-3,
-- then the default department). Idempotent on the caller's key; optional escalation and note.
-- ARGV: prefix now vid idem_key target_type target_id default_department escalation note actor
local vid, idem, ttype, tid = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local dept, escalation, note, actor = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local seen = idem_seen(idem)
if seen then
  return seen
end
local conv = K.conv(vid)
local c = redis.call('HMGET', conv, 'status', 'contact', 'campaign')
if not c[1] then
  return reply('not_found')
end
if c[1] ~= 'bot' then
  return reply('not_bot', {status = c[1]})
end
event(vid, 'type', 'handoff', 'actor', actor, 'target', ttype .. ':' .. tid, 'note', note)
if escalation ~= '' then
  redis.call('HSET', conv, 'priority', 'escalated', 'escalation', escalation)
  notice(vid, 'type', 'escalated', 'actor', actor, 'escalation', escalation, 'note', note)
  mark('escalation', vid)
end
redis.call('DEL', K.outbox(vid, 'bot'))
local d, skipped
if ttype == 'agent' then
  d, skipped = with_agent('handoff', 'handoff to', tid, ''), {}
elseif ttype == 'department' then
  d, skipped = in_department('handoff', c[3], tid), {}
else
  d, skipped = decide(c[2], c[3], dept, 'skip')
end
local assignee = place(vid, d, skipped)
return idem_reply(idem, 'handed_off', {status = redis.call('HGET', conv, 'status'),
                                       assignee = assignee})
