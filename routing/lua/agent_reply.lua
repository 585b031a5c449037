-- An agent's Slack thread reply: deduplicate on the Slack event_id, check the author is the
-- assignee and the channel window is open, then store the message and queue it for Twilio.
-- ARGV: prefix now event_id slack_channel thread_ts slack_user text message_ts event_ttl
--       window_seconds media_json
local eid, sch, thread, user = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local text, ts, ttl, window = ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local media = ARGV[11] or '[]'

if not redis.call('SET', P .. 'slack_event:' .. eid, '1', 'NX', 'EX', ttl) then
  return {'duplicate', '', ''}
end
local vid = redis.call('HGET', P .. 'threads', sch .. '|' .. thread)
if not vid then
  return {'no_conversation', '', ''}
end
local c = redis.call('HMGET', P .. 'conv:' .. vid, 'status', 'assignee', 'channel', 'last_inbound_at')
if c[1] == 'closed' then
  return {'closed', vid, ''}
end
local agent = redis.call('HGET', P .. 'slack_users', user)
if not agent then
  return {'not_an_agent', vid, ''}
end
if c[2] ~= agent then
  return {'not_assignee', vid, c[2] or ''}
end
if c[3] == 'whatsapp' and NOW - tonumber(c[4] or '0') > window then
  return {'window_closed', vid, agent}
end

local mid = 'm' .. redis.call('HINCRBY', P .. 'seq', 'msg', 1)
redis.call('HSET', P .. 'msg:' .. mid, 'id', mid, 'conv', vid, 'direction', 'out',
           'author', agent, 'body', text, 'media', media, 'status', 'queued',
           'slack_channel', sch, 'slack_ts', ts, 'created_at', NOW)
redis.call('HSETNX', P .. 'conv:' .. vid, 'first_response_at', NOW)
redis.call('HSET', P .. 'conv:' .. vid, 'last_message_at', NOW)
event(vid, 'type', 'message', 'actor', agent, 'direction', 'out', 'message', mid)
redis.call('RPUSH', P .. 'conv:' .. vid .. ':to_twilio', mid)
redis.call('ZADD', P .. 'pending', 'NX', NOW, 'twilio:' .. vid)
redis.call('ZREM', P .. 'awaiting', vid)  -- answered: the next wait gets its own reminder
redis.call('HDEL', P .. 'conv:' .. vid, 'reminded_at')
redis.call('ZADD', P .. 'pending', NOW, 'status:' .. mid)
return {'queued', vid, mid}
