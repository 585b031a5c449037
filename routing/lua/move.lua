-- A person moves a conversation: reassign it to an agent, transfer it to an agent (typification
-- "Transfer"), or transfer it to another campaign on the same number (routed there by the
-- policy, past any bot). The freed agent immediately takes waiting work.
-- ARGV: prefix now vid actor kind(reassign|transfer_agent|transfer_campaign) target note
--       new_campaign_default_department
local vid, actor, kind, target, note, dept = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local conv = P .. 'conv:' .. vid
local c = redis.call('HMGET', conv, 'status', 'assignee', 'contact', 'campaign')
if not c[1] then
  return {'not_found', '', {}}
end
if c[1] == 'closed' then
  return {'closed', '', {}}
end
if kind ~= 'transfer_campaign' then
  if c[1] == 'assigned' and c[2] == target then
    return {'same_agent', target, {}}
  end
  local presence, load, cap = agent_state(target)
  if presence ~= 'online' then
    return {'target_unavailable', target .. ' is ' .. presence, {}}
  end
  if load >= cap then
    return {'target_unavailable', target .. ' is at capacity (' .. load .. '/' .. cap .. ')', {}}
  end
end
local old = release(vid)
local etype = kind == 'reassign' and 'reassigned' or 'transferred'
if kind == 'transfer_campaign' then
  redis.call('HSET', conv, 'campaign', target, 'department', '', 'slack_ts', '',
             'previous_campaign', c[4], 'typification', 'Transfer')
  event(vid, 'type', etype, 'actor', actor, 'from', old ~= '' and old or c[1],
        'to', 'campaign:' .. target, 'typification', 'Transfer', 'note', note)
  local d, skipped = decide(c[3], target, dept, 'skip')
  place(vid, d, skipped)
else
  if kind == 'transfer_agent' then
    redis.call('HSET', conv, 'typification', 'Transfer')
  end
  event(vid, 'type', etype, 'actor', actor, 'from', old, 'to', target, 'note', note)
  assign(vid, target, 'manual', actor .. ' ' .. etype .. ' it to ' .. target, '')
end
redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
local assigned = {}
if old ~= '' then
  assigned = fill(old, 'capacity freed (conversation ' .. vid .. ' ' .. etype .. ')')
end
return {'moved', redis.call('HGET', conv, 'assignee') or '', assigned}
