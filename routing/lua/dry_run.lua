-- Where would a new conversation of this contact in this campaign go now, and why? Reads only.
-- ARGV: prefix now phone_or_id campaign default_department bot(yes|no)
local ref, campaign, dept, bot = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cid = ''
if string.sub(ref, 1, 1) == 'c' then
  cid = ref
else
  cid = redis.call('HGET', P .. 'ident', ref) or ''
end
local d, skipped = decide(cid, campaign, dept, bot)
return {d[1], d[2], d[3], d[4], table.concat(skipped, '; '), cid}
