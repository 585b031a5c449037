-- Shared helpers, prepended to every script. P is the namespace prefix "rd:{ns}:".
local P = ARGV[1]
local NOW = tonumber(ARGV[2])

-- Message status order: a status only ever moves forward (read never goes back to delivered).
local RANK = {queued = 0, accepted = 0, scheduled = 0, sending = 1, sent = 2,
              delivered = 3, undelivered = 4, failed = 4, read = 5}

local function rank(status)
  return RANK[status or ''] or -1
end

-- Move a message's status forward; returns 1 if it changed.
local function advance_status(mid, status, code)
  local key = P .. 'msg:' .. mid
  if rank(status) <= rank(redis.call('HGET', key, 'status')) then
    return 0
  end
  redis.call('HSET', key, 'status', status, 'status_at', NOW, 'error_code', code or '')
  redis.call('ZADD', P .. 'pending', NOW, 'status:' .. mid)
  return 1
end

local function event(vid, ...)
  redis.call('XADD', P .. 'conv:' .. vid .. ':events', '*', 'at', NOW, ...)
end

-- A contact by id ('c12'), or by E.164 phone, created if new. Returns '' for an unknown id.
local function contact_ref(ref)
  if string.sub(ref, 1, 1) == 'c' then
    return redis.call('EXISTS', P .. 'contact:' .. ref) == 1 and ref or ''
  end
  local cid = redis.call('HGET', P .. 'ident', ref)
  if not cid then
    cid = 'c' .. redis.call('HINCRBY', P .. 'seq', 'contact', 1)
    redis.call('HSET', P .. 'contact:' .. cid, 'id', cid, 'phone', ref, 'name', '', 'created_at', NOW)
    redis.call('HSET', P .. 'ident', ref, cid)
  end
  return cid
end

-- ---------------------------------------------------------------------------------------------
-- Routing. decide() only reads, so the dry run and the real decision are the same code.
-- Order: exclusive agent -> owner agent -> owner department -> bot -> default department ->
-- the campaign's unassigned queue. Only 'online' agents take new work; nobody goes over capacity.

local ESCALATED = 1e12  -- escalated conversations sort before every normal one in a queue

local function agent_state(agent)
  local a = redis.call('HMGET', P .. 'agent:' .. agent, 'presence', 'load', 'capacity', 'last_assigned_at')
  return a[1] or 'offline', tonumber(a[2] or '0'), tonumber(a[3] or '0'), tonumber(a[4] or '0')
end

local function serves(agent, campaign)
  for _, ref in ipairs(redis.call('SMEMBERS', P .. 'agent:' .. agent .. ':depts')) do
    if string.sub(ref, 1, #campaign + 1) == campaign .. '/' then
      return true
    end
  end
  return false
end

-- The department rule: an online member under capacity, fewest open conversations first, then
-- the one whose last assignment is oldest (idle longest); ties by id for determinism.
local function pick_agent(campaign, dept)
  local best, best_load, best_idle = nil, 0, 0
  local members = redis.call('SMEMBERS', P .. 'dept:' .. campaign .. '/' .. dept .. ':members')
  table.sort(members)
  for _, agent in ipairs(members) do
    local presence, load, cap, idle = agent_state(agent)
    if presence == 'online' and load < cap then
      if best == nil or load < best_load or (load == best_load and idle < best_idle) then
        best, best_load, best_idle = agent, load, idle
      end
    end
  end
  return best
end

-- A decision: {rule, action, target, reason, department}; action is one of
-- assign | inbox | queue | bot | unassigned.
local function with_agent(rule, label, agent, dept)
  local presence, load, cap = agent_state(agent)
  if presence == 'online' and load < cap then
    return {rule, 'assign', agent,
            label .. ' ' .. agent .. ' is online with free capacity (' .. load .. '/' .. cap .. ')', dept}
  end
  local why = presence ~= 'online' and ('is ' .. presence) or ('is at capacity (' .. load .. '/' .. cap .. ')')
  return {rule, 'inbox', agent, label .. ' ' .. agent .. ' ' .. why .. ': waiting in their inbox', dept}
end

local function in_department(rule, campaign, dept)
  local agent = pick_agent(campaign, dept)
  if agent then
    return {rule, 'assign', agent, 'department ' .. dept .. ': ' .. agent ..
            ' is online with free capacity (fewest open, idle longest)', dept}
  end
  return {rule, 'queue', campaign .. '/' .. dept,
          'no online member of department ' .. dept .. ' has free capacity: waiting in its queue', dept}
end

-- bot: 'yes' (campaign has a bot), 'no' (it has none), 'skip' (a handoff re-routes past it).
local function decide(cid, campaign, default_dept, bot)
  local skipped = {}
  local c = {false, false, false}
  if cid ~= '' then
    c = redis.call('HMGET', P .. 'contact:' .. cid, 'exclusive:' .. campaign, 'owner_type', 'owner_id')
  end
  if c[1] then
    return with_agent('exclusive', 'exclusive agent', c[1], ''), skipped
  end
  table.insert(skipped, 'no exclusive agent in ' .. campaign)
  if c[2] == 'agent' then
    if serves(c[3], campaign) then
      return with_agent('owner_agent', 'owner', c[3], ''), skipped
    end
    table.insert(skipped, 'owner ' .. c[3] .. ' does not serve ' .. campaign)
  elseif c[2] == 'department' then
    local camp, dept = string.match(c[3], '^(.-)/(.+)$')
    if camp == campaign then
      return in_department('owner_department', campaign, dept), skipped
    end
    table.insert(skipped, 'owner department ' .. c[3] .. ' is not in ' .. campaign)
  else
    table.insert(skipped, 'contact has no owner')
  end
  if bot == 'yes' then
    return {'bot', 'bot', campaign, 'the campaign bot answers', ''}, skipped
  end
  table.insert(skipped, bot == 'skip' and 'bot skipped (handoff)' or (campaign .. ' has no bot'))
  if default_dept ~= '' then
    return in_department('default_department', campaign, default_dept), skipped
  end
  return {'unassigned', 'unassigned', campaign,
          campaign .. ' has no default department: unassigned queue', ''}, skipped
end

local function unqueue(vid)
  local q = redis.call('HGET', P .. 'conv:' .. vid, 'queue')
  if q and q ~= '' then
    redis.call('ZREM', q, vid)
    redis.call('HSET', P .. 'conv:' .. vid, 'queue', '')
  end
end

local function enqueue_at(vid, qkey)
  local conv = P .. 'conv:' .. vid
  local since = tonumber(redis.call('HGET', conv, 'queued_at') or '') or NOW
  local score = since
  if redis.call('HGET', conv, 'priority') == 'escalated' then
    score = since - ESCALATED
  end
  redis.call('HSET', conv, 'queue', qkey, 'queued_at', since)
  redis.call('ZADD', qkey, score, vid)
end

local function assign(vid, agent, rule, reason, skipped)
  local conv = P .. 'conv:' .. vid
  unqueue(vid)
  redis.call('HSET', conv, 'assignee', agent, 'assigned_at', NOW, 'status', 'assigned',
             'rule', rule, 'waiting_for', '', 'bot', '0')
  redis.call('HDEL', conv, 'queued_at')
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'load', 1)
  redis.call('HSET', P .. 'agent:' .. agent, 'last_assigned_at', NOW)
  redis.call('SADD', P .. 'agent:' .. agent .. ':open', vid)
  event(vid, 'type', 'assigned', 'actor', 'router', 'agent', agent, 'rule', rule,
        'reason', reason, 'skipped', skipped or '')
  redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
  redis.call('ZADD', P .. 'pending', NOW, 'alert:' .. vid)
end

-- Carry out a decision for a conversation that has no place yet.
local function place(vid, d, skipped)
  local rule, action, target, reason, dept = d[1], d[2], d[3], d[4], d[5]
  local conv = P .. 'conv:' .. vid
  local why = table.concat(skipped, '; ')
  if dept ~= '' then
    redis.call('HSET', conv, 'department', dept)
  end
  if action == 'assign' then
    assign(vid, target, rule, reason, why)
    return target
  end
  redis.call('HSET', conv, 'rule', rule, 'assignee', '', 'waiting_for', '', 'bot', '0')
  if action == 'inbox' then
    redis.call('HSET', conv, 'status', 'waiting', 'waiting_for', target)
    enqueue_at(vid, P .. 'agent:' .. target .. ':inbox')
  elseif action == 'queue' then
    redis.call('HSET', conv, 'status', 'queued')
    enqueue_at(vid, P .. 'dept:' .. target .. ':queue')
  elseif action == 'bot' then
    redis.call('HSET', conv, 'status', 'bot', 'bot', '1', 'queue', '')
  else
    redis.call('HSET', conv, 'status', 'unassigned')
    enqueue_at(vid, P .. 'unassigned:' .. target)
  end
  event(vid, 'type', action == 'bot' and 'bot' or 'queued', 'actor', 'router', 'rule', rule,
        'target', target, 'reason', reason, 'skipped', why)
  redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
  return ''
end

local function route(vid, cid, campaign, default_dept, bot)
  local d, skipped = decide(cid, campaign, default_dept, bot)
  return place(vid, d, skipped)
end

-- An agent may take more work (came online, capacity freed or raised): give them waiting
-- conversations, their own inbox first, then their departments' queues, oldest (escalated
-- first) first, until they are full. Returns the conversations assigned.
local function fill(agent, cause)
  local assigned = {}
  local depts = redis.call('SMEMBERS', P .. 'agent:' .. agent .. ':depts')
  table.sort(depts)
  while true do
    local presence, load, cap = agent_state(agent)
    if presence ~= 'online' or load >= cap then
      break
    end
    local best, best_score, best_from = nil, 0, ''
    local inbox = redis.call('ZRANGE', P .. 'agent:' .. agent .. ':inbox', 0, 0, 'WITHSCORES')
    if inbox[1] then
      best, best_from = inbox[1], 'their inbox'
    else
      for _, ref in ipairs(depts) do
        local head = redis.call('ZRANGE', P .. 'dept:' .. ref .. ':queue', 0, 0, 'WITHSCORES')
        if head[1] and (best == nil or tonumber(head[2]) < best_score) then
          best, best_score, best_from = head[1], tonumber(head[2]), 'the queue of ' .. ref
        end
      end
    end
    if not best then
      break
    end
    local rule = redis.call('HGET', P .. 'conv:' .. best, 'rule') or 'department'
    assign(best, agent, rule, cause .. ': ' .. agent .. ' takes it from ' .. best_from, '')
    table.insert(assigned, best)
  end
  return assigned
end

-- Take an open conversation out of wherever it is (assignee, inbox, queue, bot). Returns the
-- agent whose capacity it freed, or ''.
local function release(vid)
  local conv = P .. 'conv:' .. vid
  unqueue(vid)
  local old = redis.call('HGET', conv, 'assignee') or ''
  if old ~= '' and redis.call('HGET', conv, 'status') == 'assigned' then
    redis.call('HINCRBY', P .. 'agent:' .. old, 'load', -1)
    redis.call('SREM', P .. 'agent:' .. old .. ':open', vid)
  else
    old = ''
  end
  redis.call('HSET', conv, 'assignee', '', 'waiting_for', '', 'bot', '0')
  return old
end
