-- Set the owner of contacts (agent, department or unassigned), one or many in one step.
-- ARGV: prefix now actor owner_type owner_id ref1 [ref2 ...]   (owner_type '' = unassigned)
local actor, otype, oid = ARGV[3], ARGV[4], ARGV[5]
local out = {}
for i = 6, #ARGV do
  local cid = contact_ref(ARGV[i])
  if cid == '' then
    table.insert(out, '')
  else
    local key = P .. 'contact:' .. cid
    local old = redis.call('HMGET', key, 'owner_type', 'owner_id')
    redis.call('HSET', key, 'owner_type', otype, 'owner_id', oid)
    redis.call('XADD', key .. ':audit', '*', 'at', NOW, 'actor', actor, 'field', 'owner',
               'old', (old[1] or '') .. ':' .. (old[2] or ''), 'new', otype .. ':' .. oid)
    table.insert(out, cid)
  end
end
return out
