-- A message to the customer written through the API (the bot, for now): checked against the
-- conversation's state and the WhatsApp window, stored, queued for Twilio and shown in Slack.
-- Idempotent on the caller's key.
-- ARGV: prefix now vid author text idem_key window_seconds require_status
local vid, author, text, idem, window, need = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local ikey = P .. 'idem:' .. idem
if idem ~= '' then
  local seen = redis.call('GET', ikey)
  if seen then
    return {'duplicate', seen}
  end
end
local conv = P .. 'conv:' .. vid
local c = redis.call('HMGET', conv, 'status', 'channel', 'last_inbound_at')
if not c[1] then
  return {'not_found', ''}
end
if need ~= '' and c[1] ~= need then
  return {'wrong_status', c[1]}
end
if c[2] == 'whatsapp' and NOW - tonumber(c[3] or '0') > window then
  return {'window_closed', ''}
end
local mid = 'm' .. redis.call('HINCRBY', P .. 'seq', 'msg', 1)
redis.call('HSET', P .. 'msg:' .. mid, 'id', mid, 'conv', vid, 'direction', 'out',
           'author', author, 'body', text, 'media', '[]', 'status', 'queued', 'created_at', NOW)
redis.call('HSET', conv, 'last_message_at', NOW)
event(vid, 'type', 'message', 'actor', author, 'direction', 'out', 'message', mid)
redis.call('RPUSH', conv .. ':to_twilio', mid)
redis.call('RPUSH', conv .. ':to_slack', mid)
redis.call('ZADD', P .. 'pending', 'NX', NOW, 'twilio:' .. vid)
redis.call('ZREM', P .. 'awaiting', vid)  -- answered: the next wait gets its own reminder
redis.call('HDEL', P .. 'conv:' .. vid, 'reminded_at')
redis.call('ZADD', P .. 'pending', 'NX', NOW, 'slack:' .. vid)
if idem ~= '' then
  redis.call('SET', ikey, mid, 'EX', 86400)
end
return {'queued', mid}
