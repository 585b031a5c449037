-- Edit a contact's data; every changed field is recorded (who, when, old, new). A new phone must
-- not belong to another contact (the phone is how customers are recognised). The conversation
-- the edit was made from (optional) shows it in its thread; every open card shows the new data.
-- ARGV: prefix now cid actor vid field1 value1 [field2 value2 ...]
local cid, actor, vid = ARGV[3], ARGV[4], ARGV[5]
local key = K.contact(cid)
if redis.call('EXISTS', key) == 0 then
  return reply('not_found')
end
for i = 6, #ARGV, 2 do
  if ARGV[i] == 'phone' then
    local owner = redis.call('HGET', K.ident, ARGV[i + 1])
    if owner and owner ~= cid then
      return reply('phone_taken', {contact = owner})
    end
  end
end
local changed = {}
for i = 6, #ARGV, 2 do
  local field, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', key, field) or ''
  if old ~= new then
    if field == 'phone' then
      redis.call('HDEL', K.ident, old)
      redis.call('HSET', K.ident, new, cid)
    end
    redis.call('HSET', key, field, new)
    redis.call('XADD', K.contact_audit(cid), '*', 'at', NOW, 'actor', actor, 'field', field,
               'old', old, 'new', new)
    table.insert(changed, field)
  end
end
if #changed > 0 then
  if vid ~= '' and redis.call('EXISTS', K.conv(vid)) == 1 then
    notice(vid, 'type', 'contact_edited', 'actor', actor, 'fields', table.concat(changed, ','))
  end
  mark_contact_cards(cid)
end
return reply('edited', {changed = changed})
