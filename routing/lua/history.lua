-- H3, H6, H8: the contacts in an agent's attendance history, most recent first: those with a
-- ticket the agent served, in one of the given campaigns, closed between 90 days and 3 hours
-- ago. Reads only.
-- ARGV: prefix now agent campaign1 [campaign2 ...]
local agent = ARGV[3]
local permitted = {}
for i = 4, #ARGV do
  permitted[ARGV[i]] = true
end
local tickets = redis.call('ZREVRANGEBYSCORE', K.history(agent), NOW - HISTORY_DELAY,
                           NOW - HISTORY_DAYS, 'WITHSCORES')
local contacts, seen = {}, {}
for i = 1, #tickets, 2 do
  local cid, vid = string.match(tickets[i], '^(.-)|(.+)$')
  if not seen[cid] and permitted[redis.call('HGET', K.conv(vid), 'campaign') or ''] then
    seen[cid] = true
    table.insert(contacts, {cid, tickets[i + 1]})
  end
end
return reply('listed', {contacts = contacts})
