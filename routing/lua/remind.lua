-- A7: a customer has waited past the campaign's reminder time: remind the assignee, once per
-- wait. Returns nothing to do if the wait ended or was already reminded.
-- ARGV: prefix now vid due
local vid, due = ARGV[3], ARGV[4]
local c = redis.call('HMGET', K.conv(vid), 'status', 'reminded_at')
if c[1] ~= 'assigned' or c[2] or not redis.call('ZSCORE', K.awaiting, vid) then
  return reply('skipped')
end
redis.call('HSET', K.conv(vid), 'reminded_at', due)
mark('remind', vid)
return reply('marked')
