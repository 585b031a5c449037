-- An internal note in a conversation (never sent to the customer). Deduplicated on the Slack
-- event id like any thread reply.
-- ARGV: prefix now vid actor text dedupe_key dedupe_ttl
local vid, actor, text, key, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
if key ~= '' and not redis.call('SET', P .. 'slack_event:' .. key, '1', 'NX', 'EX', ttl) then
  return 'duplicate'
end
if not redis.call('HGET', P .. 'conv:' .. vid, 'status') then
  return 'not_found'
end
event(vid, 'type', 'note', 'actor', actor, 'note', text)
local cid = redis.call('HGET', P .. 'conv:' .. vid, 'contact')
redis.call('XADD', P .. 'contact:' .. cid .. ':notes', '*', 'at', NOW, 'actor', actor,
           'conversation', vid, 'note', text)
return 'noted'
