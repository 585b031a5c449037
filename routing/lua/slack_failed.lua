-- Slack refused the head entries of a conversation's Slack outbox for good (invalid_blocks,
-- msg_too_long, channel_not_found, is_archived, ...). They are parked, not retried: each
-- message records the error, one event says what was lost, and supervisors are told (the
-- 'problem' mark), so the outbox goes on with the next entry instead of blocking forever.
-- ARGV: prefix now vid error channel entry...
local vid, err, channel = ARGV[3], ARGV[4], ARGV[5]
local outbox = K.outbox(vid, 'slack')
local parked = {}
for i = 6, #ARGV do
  local entry = ARGV[i]
  if redis.call('LINDEX', outbox, 0) ~= entry then
    break  -- only the relay job pops, under the conversation's lock: this does not happen
  end
  redis.call('LPOP', outbox)
  if string.sub(entry, 1, 2) ~= 'e:' then
    redis.call('HSET', K.msg(entry), 'slack_error', err, 'slack_failed_at', NOW)
  end
  table.insert(parked, entry)
end
if #parked == 0 then
  return reply('nothing')
end
local eid = event(vid, 'type', 'slack_failed', 'actor', 'slack', 'error', err,
                  'channel', channel, 'entries', table.concat(parked, ','))
mark('problem', vid .. '/' .. eid)
return reply('parked', {event = eid, parked = parked})
