-- Set the owner of contacts (agent, department or unassigned), one or many in one step. Open
-- conversations stay where they are (the owner routes the contact's next conversations); their
-- cards show the new owner and their threads say who changed it.
-- ARGV: prefix now actor owner_type owner_id ref1 [ref2 ...]   (owner_type '' = unassigned)
local actor, otype, oid = ARGV[3], ARGV[4], ARGV[5]
local contacts = {}
for i = 6, #ARGV do
  local cid = contact_ref(ARGV[i], true)
  if cid ~= '' then
    local key = K.contact(cid)
    local old = redis.call('HMGET', key, 'owner_type', 'owner_id')
    local before, after = (old[1] or '') .. ':' .. (old[2] or ''), otype .. ':' .. oid
    redis.call('HSET', key, 'owner_type', otype, 'owner_id', oid)
    redis.call('XADD', K.contact_audit(cid), '*', 'at', NOW, 'actor', actor, 'field', 'owner',
               'old', before, 'new', after)
    mark_contact_cards(cid)
    if before ~= after then
      for _, vid in ipairs(redis.call('ZRANGE', K.contact_convs(cid), 0, -1)) do
        local status = redis.call('HGET', K.conv(vid), 'status')
        if status and status ~= 'closed' then
          notice(vid, 'type', 'owner_set', 'actor', actor, 'from', before, 'to', after)
        end
      end
    end
  end
  table.insert(contacts, cid)
end
return reply('set', {contacts = contacts})
