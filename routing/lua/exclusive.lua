-- Set ('' removes) the exclusive agent of a contact for one campaign. Open conversations stay
-- where they are; those of the campaign say in their thread who changed it.
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
if old ~= agent then
  for _, vid in ipairs(redis.call('ZRANGE', K.contact_convs(cid), 0, -1)) do
    local c = redis.call('HMGET', K.conv(vid), 'status', 'campaign')
    if c[1] and c[1] ~= 'closed' and c[2] == campaign then
      notice(vid, 'type', 'exclusive_set', 'actor', actor, 'campaign', campaign, 'from', old,
             'to', agent)
    end
  end
end
return reply('set', {contact = cid})
