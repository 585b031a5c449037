-- A person moves a conversation: reassign it to an agent, transfer it to an agent (typification
-- "Transfer"), or transfer it to another campaign on the same number (routed there by the
-- policy, past any bot, into a new thread). The freed agent immediately takes waiting work.
-- ARGV: prefix now vid actor kind(reassign|transfer_agent|transfer_campaign) target note
--       new_campaign_default_department
local vid, actor, kind, target, note, dept = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local conv = K.conv(vid)
local c = redis.call('HMGET', conv, 'status', 'assignee', 'contact', 'campaign', 'slack_channel',
                     'slack_ts')
local status, assignee, cid, campaign = c[1], c[2], c[3], c[4]
if not status then
  return reply('not_found')
end
if status == 'closed' then
  return reply('closed')
end
if kind ~= 'transfer_campaign' then
  if status == 'assigned' and assignee == target then
    return reply('same_agent', {detail = target})
  end
  local s = agent_state(target)
  if not available(s) then
    return reply('target_unavailable', {detail = unavailable_because(target, s)})
  end
end
local old = release(vid)
local etype = kind == 'reassign' and 'reassigned' or 'transferred'
if kind == 'transfer_campaign' then
  -- The note stays in the old thread; the new campaign gets a new card and thread.
  notice(vid, 'type', etype, 'actor', actor, 'from', old ~= '' and old or status,
         'to', 'campaign:' .. target, 'typification', 'Transfer', 'note', note,
         'thread', (c[5] or '') .. '|' .. (c[6] or ''))
  redis.call('HSET', conv, 'campaign', target, 'department', '', 'slack_ts', '',
             'previous_campaign', campaign, 'typification', 'Transfer')
  route(vid, cid, target, dept, 'skip')
else
  if kind == 'transfer_agent' then
    redis.call('HSET', conv, 'typification', 'Transfer')
  end
  notice(vid, 'type', etype, 'actor', actor, 'from', old, 'to', target, 'note', note)
  assign(vid, target, 'manual', actor .. ' ' .. etype .. ' it to ' .. target, '')
end
-- (the card: assign() and place() mark it)
local assigned = {}
if old ~= '' then
  assigned = fill(old, 'capacity freed (conversation ' .. vid .. ' ' .. etype .. ')')
end
return reply('moved', {assignee = redis.call('HGET', conv, 'assignee') or '',
                       assigned = assigned})
