-- Close a conversation: it leaves wherever it was (assignee, inbox, queue, bot), and the
-- assignee's freed capacity immediately takes waiting work.
-- ARGV: prefix now vid actor typification subtypification note
local vid, actor, typ, sub, note = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local conv = K.conv(vid)
local c = redis.call('HMGET', conv, 'status', 'contact', 'campaign_addr', 'assignee')
if not c[1] then
  return reply('not_found')
end
if c[1] == 'closed' then
  return reply('already_closed')
end
local freed = release(vid)
redis.call('ZREM', K.awaiting, vid)
redis.call('HSET', conv, 'status', 'closed', 'closed_at', NOW, 'typification', typ,
           'subtypification', sub, 'assignee', c[4] or '')  -- who had it stays on record
redis.call('HDEL', K.open, c[2] .. '|' .. c[3])
notice(vid, 'type', 'closed', 'actor', actor, 'typification', typ, 'subtypification', sub,
       'note', note)
mark_card(vid)
-- Everyone who served it finds the contact in their history (from 3 h after now, for 90 days).
for _, agent in ipairs(redis.call('SMEMBERS', K.people(vid))) do
  redis.call('ZADD', K.history(agent), NOW, c[2] .. '|' .. vid)
  redis.call('ZREMRANGEBYSCORE', K.history(agent), '-inf', NOW - HISTORY_DAYS)
end
local assigned = {}
if freed ~= '' then
  assigned = fill(freed, 'capacity freed (conversation ' .. vid .. ' closed)')
end
return reply('closed', {assigned = assigned})
