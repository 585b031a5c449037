-- A job finished the work named by a pending entry ("slack:v1", "twilio:v1", "card:v1",
-- "status:m1"). An outbox entry is removed only once its outbox is empty; any other entry only
-- if nothing re-marked it after the job started. The sweeper re-runs whatever is left.
-- ARGV: prefix now member started_at
local member, started = ARGV[3], tonumber(ARGV[4])
local kind, id = string.match(member, '^(%w+):(.+)$')
if kind == 'slack' or kind == 'twilio' or kind == 'bot' then
  if redis.call('LLEN', P .. 'conv:' .. id .. ':to_' .. kind) > 0 then
    return 0
  end
else
  local score = redis.call('ZSCORE', P .. 'pending', member)
  if score and tonumber(score) > started then
    return 0
  end
end
redis.call('ZREM', P .. 'pending', member)
return 1
