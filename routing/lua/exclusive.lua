-- Set ('' removes) the exclusive agent of a contact for one campaign.
-- ARGV: prefix now actor ref campaign agent
local actor, ref, campaign, agent = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cid = contact_ref(ref, true)
if cid == '' then
  return reply('not_found')
end
local key = K.contact(cid)
local old = redis.call('HGET', key, 'exclusive:' .. campaign) or ''
if agent == '' then
  redis.call('HDEL', key, 'exclusive:' .. campaign)
else
  redis.call('HSET', key, 'exclusive:' .. campaign, agent)
end
redis.call('XADD', K.contact_audit(cid), '*', 'at', NOW, 'actor', actor,
           'field', 'exclusive:' .. campaign, 'old', old, 'new', agent)
return reply('set', {contact = cid})
