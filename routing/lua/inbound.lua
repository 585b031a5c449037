-- A customer message: deduplicate on MessageSid, find or create the contact, reuse the open
-- conversation or open and route a new one, store the message and queue it for Slack.
-- ARGV: prefix now sid phone customer_addr campaign_addr channel campaign body media_json
--       profile_name default_department sid_ttl bot(yes|no)
local sid, phone, from, to = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local channel, campaign, body, media = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local profile, dept, ttl, bot = ARGV[11], ARGV[12], tonumber(ARGV[13]), ARGV[14]

local seen = redis.call('GET', P .. 'sid:' .. sid)
if seen then
  return {'duplicate', seen, redis.call('HGET', P .. 'msg:' .. seen, 'conv') or '', 0, '', '', ''}
end

local cid = redis.call('HGET', P .. 'ident', phone)
if not cid then
  cid = 'c' .. redis.call('HINCRBY', P .. 'seq', 'contact', 1)
  redis.call('HSET', P .. 'contact:' .. cid, 'id', cid, 'phone', phone, 'name', profile,
             'created_at', NOW)
  redis.call('HSET', P .. 'ident', phone, cid)
elseif profile ~= '' and (redis.call('HGET', P .. 'contact:' .. cid, 'name') or '') == '' then
  redis.call('HSET', P .. 'contact:' .. cid, 'name', profile)
end
redis.call('HSET', P .. 'contact:' .. cid, 'last_seen_at', NOW, channel, from)

local open_field = cid .. '|' .. to
local vid = redis.call('HGET', P .. 'open', open_field)
local opened, assignee = 0, ''
if not vid then
  vid = 'v' .. redis.call('HINCRBY', P .. 'seq', 'conv', 1)
  redis.call('HSET', P .. 'conv:' .. vid, 'id', vid, 'contact', cid, 'campaign', campaign,
             'channel', channel, 'customer_addr', from, 'campaign_addr', to,
             'status', 'open', 'origin', 'inbound', 'opened_at', NOW)
  redis.call('HSET', P .. 'open', open_field, vid)
  redis.call('ZADD', P .. 'contact:' .. cid .. ':convs', NOW, vid)
  event(vid, 'type', 'opened', 'actor', 'customer', 'origin', 'inbound', 'campaign', campaign)
  opened = 1
  assignee = route(vid, cid, campaign, dept, bot)
else
  assignee = redis.call('HGET', P .. 'conv:' .. vid, 'assignee') or ''
end

local mid = 'm' .. redis.call('HINCRBY', P .. 'seq', 'msg', 1)
redis.call('HSET', P .. 'msg:' .. mid, 'id', mid, 'conv', vid, 'direction', 'in',
           'author', 'customer', 'body', body, 'media', media, 'provider_sid', sid,
           'created_at', NOW)
redis.call('SET', P .. 'sid:' .. sid, mid, 'EX', ttl)
redis.call('HSET', P .. 'conv:' .. vid, 'last_inbound_at', NOW, 'last_message_at', NOW)
event(vid, 'type', 'message', 'actor', 'customer', 'direction', 'in', 'message', mid)
redis.call('RPUSH', P .. 'conv:' .. vid .. ':to_slack', mid)
-- A mark that already exists means a job is queued or running and will drain this message too:
-- only new marks need a job (returned so the caller enqueues just those).
local jobs = {}
if redis.call('ZADD', P .. 'pending', 'NX', NOW, 'slack:' .. vid) == 1 then
  table.insert(jobs, 'slack:' .. vid)
end
local status = redis.call('HGET', P .. 'conv:' .. vid, 'status')
if status == 'bot' then
  redis.call('RPUSH', P .. 'conv:' .. vid .. ':to_bot', mid)
  if redis.call('ZADD', P .. 'pending', 'NX', NOW, 'bot:' .. vid) == 1 then
    table.insert(jobs, 'bot:' .. vid)
  end
end
if opened == 1 and assignee ~= '' then
  table.insert(jobs, 'alert:' .. vid)
end
-- The customer now waits for an answer (since their first unanswered message): reminders.
redis.call('ZADD', P .. 'awaiting', 'NX', NOW, vid)
-- A16: the assignee is away from the desk: tell them in a DM.
if opened == 0 and status == 'assigned' and assignee ~= '' then
  local presence = redis.call('HGET', P .. 'agent:' .. assignee, 'presence') or 'offline'
  if presence ~= 'online' then
    redis.call('ZADD', P .. 'pending', NOW, 'away:' .. mid)
    table.insert(jobs, 'away:' .. mid)
  end
end
return {'stored', mid, vid, opened, assignee, status, table.concat(jobs, ' ')}
