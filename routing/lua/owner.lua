-- Set the owner of contacts (agent, department or unassigned), one or many in one step. Open
-- cards show the owner, so they are refreshed.
-- ARGV: prefix now actor owner_type owner_id ref1 [ref2 ...]   (owner_type '' = unassigned)
local actor, otype, oid = ARGV[3], ARGV[4], ARGV[5]
local contacts = {}
for i = 6, #ARGV do
  local cid = contact_ref(ARGV[i], true)
  if cid ~= '' then
    local key = K.contact(cid)
    local old = redis.call('HMGET', key, 'owner_type', 'owner_id')
    redis.call('HSET', key, 'owner_type', otype, 'owner_id', oid)
    redis.call('XADD', K.contact_audit(cid), '*', 'at', NOW, 'actor', actor, 'field', 'owner',
               'old', (old[1] or '') .. ':' .. (old[2] or ''), 'new', otype .. ':' .. oid)
    mark_contact_cards(cid)
  end
  table.insert(contacts, cid)
end
return reply('set', {contacts = contacts})
