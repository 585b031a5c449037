-- Shared helpers, prepended to every script (then policy.lua, then the script itself).
-- ARGV[1] is the namespace prefix "rd:{ns}:", ARGV[2] the time; a script's own arguments follow.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])

-- Key names, built exactly as routing/keys.py builds them (a test compares the two).
local K = {
  seq = P .. 'seq', ident = P .. 'ident', open = P .. 'open', threads = P .. 'threads',
  slack_users = P .. 'slack_users', awaiting = P .. 'awaiting', pending = P .. 'pending',
}
function K.contact(cid) return P .. 'contact:' .. cid end
function K.contact_convs(cid) return P .. 'contact:' .. cid .. ':convs' end
function K.contact_notes(cid) return P .. 'contact:' .. cid .. ':notes' end
function K.contact_audit(cid) return P .. 'contact:' .. cid .. ':audit' end
function K.conv(vid) return P .. 'conv:' .. vid end
function K.events(vid) return P .. 'conv:' .. vid .. ':events' end
function K.outbox(vid, kind) return P .. 'conv:' .. vid .. ':to_' .. kind end
function K.msg(mid) return P .. 'msg:' .. mid end
function K.sid(sid) return P .. 'sid:' .. sid end
function K.early(sid) return P .. 'early:' .. sid end
function K.slack_event(eid) return P .. 'slack_event:' .. eid end
function K.idem(key) return P .. 'idem:' .. key end
function K.agent(agent) return P .. 'agent:' .. agent end
function K.agent_depts(agent) return P .. 'agent:' .. agent .. ':depts' end
function K.agent_open(agent) return P .. 'agent:' .. agent .. ':open' end
function K.inbox(agent) return P .. 'agent:' .. agent .. ':inbox' end
function K.dept_members(ref) return P .. 'dept:' .. ref .. ':members' end
function K.dept_queue(ref) return P .. 'dept:' .. ref .. ':queue' end
function K.unassigned(campaign) return P .. 'unassigned:' .. campaign end
function K.bulk(bid) return P .. 'bulk:' .. bid end
function K.bulk_input(bid) return P .. 'bulk:' .. bid .. ':input' end
function K.bulk_state(bid) return P .. 'bulk:' .. bid .. ':state' end
function K.bulk_why(bid) return P .. 'bulk:' .. bid .. ':why' end
function K.bulk_msg(bid) return P .. 'bulk:' .. bid .. ':msg' end
K.bulks = P .. 'bulks'
function K.people(vid) return P .. 'conv:' .. vid .. ':people' end
function K.history(agent) return P .. 'agent:' .. agent .. ':history' end

-- The attendance history (H3, H6): 90 days, and a ticket counts 3 hours after it closed.
local HISTORY_DAYS, HISTORY_DELAY = 90 * 86400, 3 * 3600

-- An agent interacted with a conversation (assignee, replied, wrote a note, received a
-- transfer): on close, it enters their history.
local function interacted(vid, agent)
  redis.call('SADD', K.people(vid), agent)
end

-- Work marks. Every effect outside Redis (a Slack post, a Twilio send, a card update, a DM, a
-- bot delivery, a supervisors' post, a status reaction) is marked in the pending set by the
-- script that causes it, and returned to the caller, which only enqueues what it is given. A
-- lost enqueue is found by the sweeper. The kinds are workers.dispatch.Work.
local MARKS, MARKED = {}, {}
-- An outbox drain that is already marked is queued or running and will drain what this script
-- added: only a new mark needs a job. Any other job re-renders current state, so a new mark
-- always needs one (its newer score also stops a running job from settling it: see settle.lua).
local OUTBOXES = {slack = true, twilio = true, bot = true}

local function mark(kind, id)
  local member = kind .. ':' .. id
  if MARKED[member] then
    return
  end
  MARKED[member] = true
  if OUTBOXES[kind] then
    if redis.call('ZADD', K.pending, 'NX', NOW, member) == 1 then
      table.insert(MARKS, member)
    end
  else
    redis.call('ZADD', K.pending, NOW, member)
    table.insert(MARKS, member)
  end
end

-- The card shows the conversation's state: re-render it; before it is posted, the Slack relay
-- posts it with the current state (so a new conversation costs no extra job).
local function mark_card(vid)
  local ts = redis.call('HGET', K.conv(vid), 'slack_ts')
  if ts and ts ~= '' then
    mark('card', vid)
  else
    mark('slack', vid)
  end
end

-- Every script answers with one JSON object: its outcome, named fields, and its marks.
local function reply(outcome, fields)
  local out = fields or {}
  out.outcome = outcome
  out.marks = MARKS
  return cjson.encode(out)
end

-- A bulk's progress message (the requester's DM, if they have one) is refreshed at most every
-- 2 s as it goes, and always once every recipient has an outcome. A change in between leaves
-- its mark without a job: the next refresh covers it, or the sweeper does.
local function mark_progress(bid, final)
  local b = redis.call('HMGET', K.bulk(bid), 'progress_at', 'requester_slack')
  if (b[2] or '') == '' then
    return
  end
  if final or NOW - tonumber(b[1] or '0') >= 2 then
    redis.call('HSET', K.bulk(bid), 'progress_at', NOW)
    mark('progress', bid)
  else
    redis.call('ZADD', K.pending, 'NX', NOW, 'progress:' .. bid)
  end
end

-- Opt-out (STOP) is recorded per contact and number: SMS refuses everything to that number,
-- WhatsApp refuses active messages only.
local function opted_out(cid, campaign_addr)
  return redis.call('HGET', K.contact(cid), 'optout:' .. campaign_addr)
end

-- Message status order: a status only ever moves forward (read never goes back to delivered).
local RANK = {queued = 0, accepted = 0, scheduled = 0, sending = 1, sent = 2,
              delivered = 3, undelivered = 4, failed = 4, read = 5}

local function rank(status)
  return RANK[status or ''] or -1
end

-- Move a message's status forward (its reaction in Slack follows); returns 1 if it changed.
local function advance_status(mid, status, code)
  if rank(status) <= rank(redis.call('HGET', K.msg(mid), 'status')) then
    return 0
  end
  redis.call('HSET', K.msg(mid), 'status', status, 'status_at', NOW, 'error_code', code or '')
  local bid = redis.call('HGET', K.msg(mid), 'bulk')
  if bid then
    mark_progress(bid)
  else
    mark('status', mid)
  end
  return 1
end

-- Twilio accepted a message: remember its sid (dedupe, status callbacks) and apply a status
-- callback that beat the worker's record of it. Returns the status and error code to apply.
local function record_sid(mid, sid, status, code, ttl)
  redis.call('HSET', K.msg(mid), 'provider_sid', sid, 'sent_at', NOW)
  redis.call('SET', K.sid(sid), mid, 'EX', ttl)
  local early = redis.call('HMGET', K.early(sid), 'status', 'error_code')
  if early[1] and rank(early[1]) > rank(status) then
    status, code = early[1], early[2]
  end
  redis.call('DEL', K.early(sid))
  return status, code
end

-- Append to a conversation's event stream; returns the event id.
local function event(vid, ...)
  return redis.call('XADD', K.events(vid), '*', 'at', NOW, ...)
end

-- Something a person did, shown in the conversation's Slack thread in order with its
-- messages: the event itself is queued in the Slack outbox (rendered by channels/slack/render).
local function notice(vid, ...)
  local eid = event(vid, ...)
  redis.call('RPUSH', K.outbox(vid, 'slack'), 'e:' .. eid)
  mark('slack', vid)
  return eid
end

-- Cards show contact data: every open conversation of a contact is refreshed when it changes.
local function mark_contact_cards(cid)
  for _, vid in ipairs(redis.call('ZRANGE', K.contact_convs(cid), 0, -1)) do
    local status = redis.call('HGET', K.conv(vid), 'status')
    if status and status ~= 'closed' then
      mark_card(vid)
    end
  end
end

-- A contact by E.164 phone, created if new (with the profile name the provider gave, if any).
local function contact_for_phone(phone, profile)
  local cid = redis.call('HGET', K.ident, phone)
  if not cid then
    cid = 'c' .. redis.call('HINCRBY', K.seq, 'contact', 1)
    redis.call('HSET', K.contact(cid), 'id', cid, 'phone', phone, 'name', profile or '',
               'created_at', NOW)
    redis.call('HSET', K.ident, phone, cid)
  elseif profile and profile ~= '' and (redis.call('HGET', K.contact(cid), 'name') or '') == '' then
    redis.call('HSET', K.contact(cid), 'name', profile)
  end
  return cid
end

-- A contact id ('c12') or an E.164 phone. create: a new phone becomes a contact; otherwise ''.
local function contact_ref(ref, create)
  if string.sub(ref, 1, 1) == 'c' then
    return redis.call('EXISTS', K.contact(ref)) == 1 and ref or ''
  end
  if create then
    return contact_for_phone(ref, '')
  end
  return redis.call('HGET', K.ident, ref) or ''
end

-- Replay protection for API calls: an earlier call with the same key answers again, as it did
-- then but with no marks (a replay causes nothing), and flagged as a replay.
local function idem_seen(key)
  if key == '' then
    return nil
  end
  return redis.call('GET', K.idem(key))
end

local function idem_reply(key, outcome, fields)
  local out = reply(outcome, fields)
  if key ~= '' then
    local saved = cjson.decode(out)
    saved.marks, saved.replayed = {}, true
    redis.call('SET', K.idem(key), cjson.encode(saved), 'EX', 86400)
  end
  return out
end

-- WhatsApp allows free-form messages only within 24 h of the customer's last message.
local function window_open(channel, last_inbound_at, window)
  return channel ~= 'whatsapp' or NOW - tonumber(last_inbound_at or '0') <= window
end

-- An outgoing message to the customer: stored, queued for Twilio, and the customer's wait ends.
local function queue_outbound(vid, author, text, media, extra)
  local mid = 'm' .. redis.call('HINCRBY', K.seq, 'msg', 1)
  redis.call('HSET', K.msg(mid), 'id', mid, 'conv', vid, 'direction', 'out', 'author', author,
             'body', text, 'media', media, 'status', 'queued', 'created_at', NOW, unpack(extra))
  if author ~= 'bot' then
    redis.call('HSETNX', K.conv(vid), 'first_response_at', NOW)
    interacted(vid, author)
  end
  redis.call('HSET', K.conv(vid), 'last_message_at', NOW)
  redis.call('HDEL', K.conv(vid), 'reminded_at')
  redis.call('ZREM', K.awaiting, vid)  -- answered: the next wait gets its own reminder
  event(vid, 'type', 'message', 'actor', author, 'direction', 'out', 'message', mid)
  redis.call('RPUSH', K.outbox(vid, 'twilio'), mid)
  mark('twilio', vid)
  return mid
end
