-- An agent's presence or capacity changes. Coming online or gaining capacity immediately takes
-- waiting work (their inbox first, then their departments' queues).
-- ARGV: prefix now agent field(presence|capacity) value actor
local agent, field, value, actor = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = K.agent(agent)
local before = redis.call('HGET', key, field) or ''
redis.call('HSET', key, field, value)
if field == 'presence' then
  redis.call('HSET', key, 'presence_at', NOW)
end
local assigned = fill(agent, field == 'presence' and (agent .. ' came ' .. value) or
                      ('capacity of ' .. agent .. ' raised to ' .. value))
return reply('set', {before = before, assigned = assigned})
