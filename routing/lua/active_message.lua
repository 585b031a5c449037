-- An active message (section 6): an approved template to one contact, which opens or resumes
-- the contact's conversation on the campaign's number. With an agent, the conversation is
-- assigned to them (whoever else held it unassigned, queued or with the bot; another agent's
-- conversation is refused); without one (an admin through the API), a new conversation is
-- routed by the policy. The rendered template is stored as the sender's message, queued for
-- Twilio and shown in the thread. Idempotent on the caller's key.
-- ARGV: prefix now campaign campaign_addr channel contact_ref agent actor text content_sid
--       content_variables template idem_key default_department bot(yes|no) window in_session
local campaign, addr, channel, ref = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local agent, actor, text, csid, cvars = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local template, idem, dept, bot = ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local window, session_only = tonumber(ARGV[16]), ARGV[17] == 'yes'
local seen = idem_seen(idem)
if seen then
  return seen
end
local cid = contact_ref(ref, true)
if cid == '' then
  return reply('not_found')
end
local phone = redis.call('HGET', K.contact(cid), 'phone') or ''
if phone == '' then
  return reply('no_phone', {contact = cid})
end
if opted_out(cid, addr) then
  return reply('opted_out', {contact = cid})
end
local open_field = cid .. '|' .. addr
local vid = redis.call('HGET', K.open, open_field)
local opened = false
if vid then
  local c = redis.call('HMGET', K.conv(vid), 'status', 'assignee', 'last_inbound_at')
  if c[1] == 'assigned' and agent ~= '' and c[2] ~= agent then
    return reply('assigned_to_other', {contact = cid, conversation = vid, assignee = c[2]})
  end
  if session_only and not window_open(channel, c[3], window) then
    return reply('window_closed', {contact = cid, conversation = vid})
  end
  event(vid, 'type', 'active_message', 'actor', actor, 'template', template)
  if agent ~= '' and not (c[1] == 'assigned' and c[2] == agent) then
    release(vid)
    assign(vid, agent, 'active_message', actor .. ' sent the active message ' .. template, '')
  end
else
  if session_only and channel == 'whatsapp' then
    return reply('window_closed', {contact = cid})
  end
  local prefix = channel == 'whatsapp' and 'whatsapp:' or ''
  vid = 'v' .. redis.call('HINCRBY', K.seq, 'conv', 1)
  redis.call('HSET', K.conv(vid), 'id', vid, 'contact', cid, 'campaign', campaign,
             'channel', channel, 'customer_addr', prefix .. phone, 'campaign_addr', addr,
             'status', 'open', 'origin', 'active_message', 'opened_at', NOW)
  redis.call('HSET', K.open, open_field, vid)
  redis.call('ZADD', K.contact_convs(cid), NOW, vid)
  event(vid, 'type', 'opened', 'actor', actor, 'origin', 'active_message', 'campaign', campaign,
        'template', template)
  opened = true
  if agent ~= '' then
    assign(vid, agent, 'active_message', actor .. ' sent the active message ' .. template, '')
  else
    route(vid, cid, campaign, dept, bot)
  end
end
local author = agent ~= '' and agent or actor
local mid = queue_outbound(vid, author, text, '[]', {'template', template, 'content_sid', csid,
                                                     'content_variables', cvars})
redis.call('RPUSH', K.outbox(vid, 'slack'), mid)
mark('slack', vid)
return idem_reply(idem, 'queued', {contact = cid, conversation = vid, message = mid,
                                   opened = opened,
                                   assignee = redis.call('HGET', K.conv(vid), 'assignee') or ''})
