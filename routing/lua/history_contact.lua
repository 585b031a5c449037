-- H7, H8: a contact as one agent's history shows it: their closed tickets of the last 90 days
-- in the given campaigns, visible 3 hours after closing (newest first), and whether the agent
-- served one of them (otherwise the contact is not theirs to see). Reads only; the work is
-- bounded by the contact's own tickets, whatever the workspace's size.
-- ARGV: prefix now agent contact campaign1 [campaign2 ...]
local agent, cid = ARGV[3], ARGV[4]
local permitted = {}
for i = 5, #ARGV do
  permitted[ARGV[i]] = true
end
local tickets, served = {}, false
for _, vid in ipairs(redis.call('ZREVRANGEBYSCORE', K.contact_convs(cid), '+inf',
                                NOW - HISTORY_DAYS - 86400)) do
  local c = redis.call('HMGET', K.conv(vid), 'status', 'campaign', 'closed_at')
  local closed = tonumber(c[3] or '')
  if c[1] == 'closed' and permitted[c[2] or ''] and closed and closed <= NOW - HISTORY_DELAY
      and closed >= NOW - HISTORY_DAYS then
    table.insert(tickets, vid)
    if not served and redis.call('SISMEMBER', K.people(vid), agent) == 1 then
      served = true
    end
  end
end
return reply(served and 'served' or 'not_served', {tickets = tickets})
