-- Close a conversation: it leaves wherever it was (assignee, inbox, queue, bot), and the
-- assignee's freed capacity immediately takes waiting work.
-- ARGV: prefix now vid actor typification subtypification note
local vid, actor, typ, sub, note = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local conv = P .. 'conv:' .. vid
local c = redis.call('HMGET', conv, 'status', 'assignee', 'contact', 'campaign_addr')
if not c[1] then
  return {'not_found', {}}
end
if c[1] == 'closed' then
  return {'already_closed', {}}
end
unqueue(vid)
redis.call('ZREM', P .. 'awaiting', vid)
redis.call('HSET', conv, 'status', 'closed', 'closed_at', NOW, 'typification', typ,
           'subtypification', sub, 'bot', '0', 'waiting_for', '')
redis.call('HDEL', P .. 'open', c[3] .. '|' .. c[4])
event(vid, 'type', 'closed', 'actor', actor, 'typification', typ, 'subtypification', sub,
      'note', note)
redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
local assigned = {}
if c[2] and c[2] ~= '' then
  redis.call('HINCRBY', P .. 'agent:' .. c[2], 'load', -1)
  redis.call('SREM', P .. 'agent:' .. c[2] .. ':open', vid)
  assigned = fill(c[2], 'capacity freed (conversation ' .. vid .. ' closed)')
end
return {'closed', assigned}
