-- A job finished the work named by a mark ("slack:v1", "twilio:v1", "card:v1", "status:m1").
-- An outbox mark is removed only once its outbox is empty; any other mark only if nothing
-- re-marked it after the job started. The sweeper re-runs whatever is left.
-- With a lock (its key and token): the job's lock is given up in the same call, if the token
-- still holds it.
-- ARGV: prefix now member started_at [lock_key lock_token]
local member, started = ARGV[3], tonumber(ARGV[4])
if ARGV[5] and redis.call('GET', ARGV[5]) == ARGV[6] then
  redis.call('DEL', ARGV[5])
end
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
