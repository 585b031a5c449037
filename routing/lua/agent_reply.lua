-- An agent's Slack thread reply: deduplicate on the Slack event_id, check the author is the
-- assignee (or may claim the conversation: it waits unassigned or in the queue of a department
-- they serve, and they are online with free capacity) and the channel window is open, then
-- store the message and queue it for Twilio. A claim and its reply are this one step.
-- ARGV: prefix now event_id slack_channel thread_ts agent text message_ts event_ttl
--       window_seconds media_json
local eid, sch, thread, agent = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local text, ts, ttl, window = ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local media = ARGV[11] or '[]'

if not redis.call('SET', K.slack_event(eid), '1', 'NX', 'EX', ttl) then
  return reply('duplicate')
end
local vid = redis.call('HGET', K.threads, sch .. '|' .. thread)
if not vid then
  return reply('no_conversation')
end
local c = redis.call('HMGET', K.conv(vid), 'status', 'assignee', 'channel', 'last_inbound_at',
                     'campaign', 'department', 'waiting_for')
local status, campaign = c[1], c[5] or ''
if status == 'closed' then
  return reply('closed', {conversation = vid})
end

-- Why this agent may not take the conversation by replying, or nil if they may.
local function cannot_claim()
  if status == 'queued' then
    local ref = campaign .. '/' .. (c[6] or '')
    if redis.call('SISMEMBER', K.agent_depts(agent), ref) == 0 then
      return 'it waits in the queue of ' .. ref .. ', a department you do not serve'
    end
  elseif status == 'unassigned' then
    if not serves(agent, campaign) then
      return 'it waits in the unassigned queue of ' .. campaign .. ', which you do not serve'
    end
  elseif status == 'waiting' then
    return 'it waits for ' .. (c[7] or 'its agent') .. ' (the contact\'s exclusive or owner ' ..
           'agent); ask a supervisor to reassign it to you'
  elseif status == 'bot' then
    return 'the bot is answering it; it reaches people when the bot hands it off'
  else
    return 'it is ' .. (status or 'unknown')
  end
  local s = agent_state(agent)
  if s.presence ~= 'online' then
    return 'you are ' .. s.presence .. '; go online (/relaydesk online) to take it'
  end
  if s.load >= s.capacity then
    return 'you are at capacity (' .. s.load .. '/' .. s.capacity .. ')'
  end
  return nil
end

local claim = false
if c[2] ~= agent then
  if status == 'assigned' then
    return reply('not_assignee', {conversation = vid, assignee = c[2] or ''})
  end
  local why = cannot_claim()
  if why then
    return reply('cannot_claim', {conversation = vid, detail = why})
  end
  claim = true
end
if not window_open(c[3], c[4], window) then
  return reply('window_closed', {conversation = vid})
end
if claim then
  MARKED['alert:' .. vid] = true  -- the claimer is in the thread already: no "new for you" DM
  assign(vid, agent, 'claim', agent .. ' took it by replying in its thread', '')
  notice(vid, 'type', 'claimed', 'actor', agent)
end
local mid = queue_outbound(vid, agent, text, media, {'slack_channel', sch, 'slack_ts', ts})
mark('status', mid)  -- the pending reaction on the agent's message
return reply(claim and 'claimed' or 'queued', {conversation = vid, message = mid})
