-- An agent's Slack thread reply: deduplicate on the Slack event_id, check the author is the
-- assignee and the channel window is open, then store the message and queue it for Twilio.
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
                    'contact', 'campaign_addr')
if c[1] == 'closed' then
  return reply('closed', {conversation = vid})
end
if c[2] ~= agent then
  return reply('not_assignee', {conversation = vid, assignee = c[2] or ''})
end
if not window_open(c[3], c[4], window) then
  return reply('window_closed', {conversation = vid})
end
if c[3] == 'sms' and opted_out(c[5], c[6]) then
  return reply('opted_out', {conversation = vid})
end
local mid = queue_outbound(vid, agent, text, media, {'slack_channel', sch, 'slack_ts', ts})
mark('status', mid)  -- the pending reaction on the agent's message
return reply('queued', {conversation = vid, message = mid})
