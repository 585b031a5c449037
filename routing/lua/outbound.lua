-- A message to the customer written through the API (the bot, for now): checked against the
-- conversation's state and the WhatsApp window, stored, queued for Twilio and shown in Slack.
-- Idempotent on the caller's key.
-- ARGV: prefix now vid author text idem_key window_seconds require_status
--       [template content_sid content_variables] (A8: a Content API template)
local vid, author, text, idem, window, need = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local template = ARGV[9] or ''
local content = template == '' and {} or {'template', template, 'content_sid', ARGV[10],
                                          'content_variables', ARGV[11]}
local seen = idem_seen(idem)
if seen then
  return seen
end
local c = redis.call('HMGET', K.conv(vid), 'status', 'channel', 'last_inbound_at', 'contact',
                    'campaign_addr')
if not c[1] then
  return reply('not_found')
end
if need ~= '' and c[1] ~= need then
  return reply('wrong_status', {status = c[1]})
end
if not window_open(c[2], c[3], window) then
  return reply('window_closed')
end
if c[2] == 'sms' and opted_out(c[4], c[5]) then
  return reply('opted_out')
end
local mid = queue_outbound(vid, author, text, '[]', content)
redis.call('RPUSH', K.outbox(vid, 'slack'), mid)
mark('slack', vid)
return idem_reply(idem, 'queued', {message = mid})
