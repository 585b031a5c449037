-- A customer message: deduplicate on MessageSid, find or create the contact, reuse the open
-- conversation or open and route a new one, store the message and queue it for Slack (and for
-- the bot while it holds the conversation).
-- ARGV: prefix now sid phone customer_addr campaign_addr channel campaign body media_json
--       profile_name default_department sid_ttl bot(yes|no) help_text choice_json
local sid, phone, from, to = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local channel, campaign, body, media = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local profile, dept, ttl, bot = ARGV[11], ARGV[12], tonumber(ARGV[13]), ARGV[14]
local help, choice = ARGV[15] or '', ARGV[16] or ''

local seen = redis.call('GET', K.sid(sid))
if seen then
  return reply('duplicate', {message = seen,
                             conversation = redis.call('HGET', K.msg(seen), 'conv') or ''})
end

local cid = contact_for_phone(phone, profile)
redis.call('HSET', K.contact(cid), 'last_seen_at', NOW, channel, from)

local open_field = cid .. '|' .. to
local vid = redis.call('HGET', K.open, open_field)
local opened, assignee, status, rule = false, '', nil, nil
if not vid then
  vid = 'v' .. redis.call('HINCRBY', K.seq, 'conv', 1)
  redis.call('HSET', K.conv(vid), 'id', vid, 'contact', cid, 'campaign', campaign,
             'channel', channel, 'customer_addr', from, 'campaign_addr', to,
             'status', 'open', 'origin', 'inbound', 'opened_at', NOW)
  redis.call('HSET', K.open, open_field, vid)
  redis.call('ZADD', K.contact_convs(cid), NOW, vid)
  event(vid, 'type', 'opened', 'actor', 'customer', 'origin', 'inbound', 'campaign', campaign)
  opened = true
  -- A reply to a bulk that named a department goes there (after exclusive/owner rules).
  local via = redis.call('HMGET', K.contact(cid), 'reply_dept:' .. campaign,
                         'reply_dept_at:' .. campaign)
  if via[1] and via[1] ~= '' and NOW - tonumber(via[2] or '0') <= 7 * 86400 then
    dept, bot = via[1], 'skip'
    redis.call('HDEL', K.contact(cid), 'reply_dept:' .. campaign, 'reply_dept_at:' .. campaign)
  end
  assignee = route(vid, cid, campaign, dept, bot)
  local placed = redis.call('HMGET', K.conv(vid), 'status', 'rule')
  status, rule = placed[1], placed[2] or nil
else
  local conv = redis.call('HMGET', K.conv(vid), 'assignee', 'status')
  assignee, status = conv[1] or '', conv[2]
end

local mid = 'm' .. redis.call('HINCRBY', K.seq, 'msg', 1)
redis.call('HSET', K.msg(mid), 'id', mid, 'conv', vid, 'direction', 'in', 'author', 'customer',
           'body', body, 'media', media, 'provider_sid', sid, 'created_at', NOW)
redis.call('SET', K.sid(sid), mid, 'EX', ttl)
if choice ~= '' then  -- A8: the quick reply or list item chosen, kept as structured data
  redis.call('HSET', K.msg(mid), 'choice', choice)
end
redis.call('HSET', K.conv(vid), 'last_inbound_at', NOW, 'last_message_at', NOW)
event(vid, 'type', 'message', 'actor', 'customer', 'direction', 'in', 'message', mid)
redis.call('RPUSH', K.outbox(vid, 'slack'), mid)
mark('slack', vid)
if status == 'bot' then
  redis.call('RPUSH', K.outbox(vid, 'bot'), mid)
  mark('bot', vid)
end
-- Opt-out keywords (the whole message): STOP & co. record an opt-out from this number (SMS:
-- nothing more may be sent; WhatsApp: no more active messages), START/UNSTOP withdraw it, HELP
-- is answered from the campaign's config. The agent sees the keyword and a notice.
local keyword = string.upper(string.match(body, '^%s*(%a+)%s*$') or '')
local STOPS = {STOP = true, STOPALL = true, UNSUBSCRIBE = true, CANCEL = true, ['END'] = true,
               QUIT = true}
if STOPS[keyword] then
  redis.call('HSET', K.contact(cid), 'optout:' .. to, NOW)
  notice(vid, 'type', 'opted_out', 'actor', 'customer', 'keyword', keyword, 'channel', channel)
elseif keyword == 'START' or keyword == 'UNSTOP' then
  if redis.call('HDEL', K.contact(cid), 'optout:' .. to) == 1 then
    notice(vid, 'type', 'opted_in', 'actor', 'customer', 'keyword', keyword)
  end
elseif keyword == 'HELP' and help ~= '' then
  local answer = queue_outbound(vid, 'auto', help, '[]', {})
  redis.call('RPUSH', K.outbox(vid, 'slack'), answer)
end
-- The customer now waits for an answer (since their first unanswered message): reminders.
redis.call('ZADD', K.awaiting, 'NX', NOW, vid)
-- A16: the assignee is away from the desk: tell them in a DM.
if not opened and status == 'assigned' and assignee ~= '' and
    agent_state(assignee).presence ~= 'online' then
  mark('away', mid)
end
return reply('stored', {message = mid, conversation = vid, opened = opened, assignee = assignee,
                        status = status, rule = rule})
