-- A job finished the work named by a mark ("slack:v1", "twilio:v1", "card:v1", "status:m1").
-- An outbox mark is removed only once its outbox is empty; any other mark only if nothing
-- re-marked it after the job started. The sweeper re-runs whatever is left.
-- ARGV: prefix now member started_at
local member, started = ARGV[3], tonumber(ARGV[4])
local kind, id = string.match(member, '^(%w+):(.+)$')
if OUTBOXES[kind] then
  if redis.call('LLEN', K.outbox(id, kind)) > 0 then
    return 0
  end
else
  local score = redis.call('ZSCORE', K.pending, member)
  if score and tonumber(score) > started then
    return 0
  end
end
redis.call('ZREM', K.pending, member)
return 1
