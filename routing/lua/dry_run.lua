-- Where would a new conversation of this contact in this campaign go now, and why? Reads only.
-- ARGV: prefix now phone_or_id campaign default_department bot(yes|no)
local ref, campaign, dept, bot = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cid = contact_ref(ref, false)
local d, skipped = decide(cid, campaign, dept, bot)
return reply('decided', {rule = d.rule, action = d.action, target = d.target, reason = d.reason,
                         skipped = skipped, contact = cid})
