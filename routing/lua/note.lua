-- An internal note in a conversation (never sent to the customer), kept with the contact too.
-- Deduplicated on the Slack event id like any thread reply.
-- ARGV: prefix now vid actor text dedupe_key dedupe_ttl
local vid, actor, text, key, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
if key ~= '' and not redis.call('SET', K.slack_event(key), '1', 'NX', 'EX', ttl) then
  return reply('duplicate')
end
local cid = redis.call('HGET', K.conv(vid), 'contact')
if not cid then
  return reply('not_found')
end
event(vid, 'type', 'note', 'actor', actor, 'note', text)
interacted(vid, actor)
redis.call('XADD', K.contact_notes(cid), '*', 'at', NOW, 'actor', actor, 'conversation', vid,
           'note', text)
return reply('noted')
