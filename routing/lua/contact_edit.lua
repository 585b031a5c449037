-- Edit a contact's data; every changed field is recorded (who, when, old, new). A new phone must
-- not belong to another contact (the phone is how customers are recognised).
-- ARGV: prefix now cid actor field1 value1 [field2 value2 ...]
local cid, actor = ARGV[3], ARGV[4]
local key = P .. 'contact:' .. cid
if redis.call('EXISTS', key) == 0 then
  return {'not_found'}
end
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'phone' then
    local owner = redis.call('HGET', P .. 'ident', ARGV[i + 1])
    if owner and owner ~= cid then
      return {'phone_taken', owner}
    end
  end
end
local changed = {}
for i = 5, #ARGV, 2 do
  local field, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', key, field) or ''
  if old ~= new then
    if field == 'phone' then
      redis.call('HDEL', P .. 'ident', old)
      redis.call('HSET', P .. 'ident', new, cid)
    end
    redis.call('HSET', key, field, new)
    redis.call('XADD', key .. ':audit', '*', 'at', NOW, 'actor', actor, 'field', field,
               'old', old, 'new', new)
    table.insert(changed, field)
  end
end
return {'edited', unpack(changed)}
