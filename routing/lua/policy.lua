-- The routing policy. decide() only reads, so the dry run and the real decision are one code.
-- Order: exclusive agent -> owner agent -> owner department -> bot -> default department ->
-- the campaign's unassigned queue. Only an available agent (online, under capacity) takes new
-- work; nobody goes over capacity. place() carries a decision out, fill() gives a newly
-- available agent waiting work, release() takes a conversation out of wherever it is.

local ESCALATED = 1e12  -- escalated conversations sort before every normal one in a queue

local function agent_state(agent)
  local a = redis.call('HMGET', K.agent(agent), 'presence', 'load', 'capacity', 'last_assigned_at')
  return {presence = a[1] or 'offline', load = tonumber(a[2] or '0'),
          capacity = tonumber(a[3] or '0'), last_assigned_at = tonumber(a[4] or '0')}
end

-- "Online and under capacity": the one test of whether an agent may take new work.
local function available(state)
  return state.presence == 'online' and state.load < state.capacity
end

-- Why an agent is not available, in words.
local function unavailable_because(agent, state)
  if state.presence ~= 'online' then
    return agent .. ' is ' .. state.presence
  end
  return agent .. ' is at capacity (' .. state.load .. '/' .. state.capacity .. ')'
end

local function serves(agent, campaign)
  for _, ref in ipairs(redis.call('SMEMBERS', K.agent_depts(agent))) do
    if string.sub(ref, 1, #campaign + 1) == campaign .. '/' then
      return true
    end
  end
  return false
end

-- The department rule: an available member, fewest open conversations first, then the one whose
-- last assignment is oldest (idle longest); ties by id for determinism.
local function pick_agent(campaign, dept)
  local best, best_state = nil, nil
  local members = redis.call('SMEMBERS', K.dept_members(campaign .. '/' .. dept))
  table.sort(members)
  for _, agent in ipairs(members) do
    local s = agent_state(agent)
    if available(s) and (best == nil or s.load < best_state.load or
        (s.load == best_state.load and s.last_assigned_at < best_state.last_assigned_at)) then
      best, best_state = agent, s
    end
  end
  return best
end

-- A decision: {rule, action, target, reason, department}; action is one of
-- assign | inbox | queue | bot | unassigned.
local function with_agent(rule, label, agent, dept)
  local s = agent_state(agent)
  if available(s) then
    return {rule = rule, action = 'assign', target = agent, department = dept,
            reason = label .. ' ' .. agent .. ' is online with free capacity (' .. s.load .. '/'
                     .. s.capacity .. ')'}
  end
  return {rule = rule, action = 'inbox', target = agent, department = dept,
          reason = label .. ' ' .. unavailable_because(agent, s) .. ': waiting in their inbox'}
end

local function in_department(rule, campaign, dept)
  local agent = pick_agent(campaign, dept)
  if agent then
    return {rule = rule, action = 'assign', target = agent, department = dept,
            reason = 'department ' .. dept .. ': ' .. agent ..
                     ' is online with free capacity (fewest open, idle longest)'}
  end
  return {rule = rule, action = 'queue', target = campaign .. '/' .. dept, department = dept,
          reason = 'no online member of department ' .. dept ..
                   ' has free capacity: waiting in its queue'}
end

-- bot: 'yes' (campaign has a bot), 'no' (it has none), 'skip' (a handoff re-routes past it).
-- Returns the decision and the rules skipped on the way, each with its reason.
local function decide(cid, campaign, default_dept, bot)
  local skipped = {}
  local c = {false, false, false}
  if cid ~= '' then
    c = redis.call('HMGET', K.contact(cid), 'exclusive:' .. campaign, 'owner_type', 'owner_id')
  end
  local exclusive, owner_type, owner_id = c[1], c[2], c[3]
  if exclusive then
    return with_agent('exclusive', 'exclusive agent', exclusive, ''), skipped
  end
  table.insert(skipped, 'no exclusive agent in ' .. campaign)
  if owner_type == 'agent' then
    if serves(owner_id, campaign) then
      return with_agent('owner_agent', 'owner', owner_id, ''), skipped
    end
    table.insert(skipped, 'owner ' .. owner_id .. ' does not serve ' .. campaign)
  elseif owner_type == 'department' then
    local camp, dept = string.match(owner_id, '^(.-)/(.+)$')
    if camp == campaign then
      return in_department('owner_department', campaign, dept), skipped
    end
    table.insert(skipped, 'owner department ' .. owner_id .. ' is not in ' .. campaign)
  else
    table.insert(skipped, 'contact has no owner')
  end
  if bot == 'yes' then
    return {rule = 'bot', action = 'bot', target = campaign, department = '',
            reason = 'the campaign bot answers'}, skipped
  end
  table.insert(skipped, bot == 'skip' and 'bot skipped (handoff)' or (campaign .. ' has no bot'))
  if default_dept ~= '' then
    return in_department('default_department', campaign, default_dept), skipped
  end
  return {rule = 'unassigned', action = 'unassigned', target = campaign, department = '',
          reason = campaign .. ' has no default department: unassigned queue'}, skipped
end

local function unqueue(vid)
  local q = redis.call('HGET', K.conv(vid), 'queue')
  if q and q ~= '' then
    redis.call('ZREM', q, vid)
    redis.call('HSET', K.conv(vid), 'queue', '')
  end
end

local function enqueue_at(vid, qkey)
  local conv = K.conv(vid)
  local since = tonumber(redis.call('HGET', conv, 'queued_at') or '') or NOW
  local score = since
  if redis.call('HGET', conv, 'priority') == 'escalated' then
    score = since - ESCALATED
  end
  redis.call('HSET', conv, 'queue', qkey, 'queued_at', since)
  redis.call('ZADD', qkey, score, vid)
end

local function assign(vid, agent, rule, reason, skipped)
  local conv = K.conv(vid)
  unqueue(vid)
  redis.call('HSET', conv, 'assignee', agent, 'assigned_at', NOW, 'status', 'assigned',
             'rule', rule, 'waiting_for', '', 'bot', '0')
  redis.call('HSETNX', conv, 'first_assigned_at', NOW)
  redis.call('HDEL', conv, 'queued_at')
  redis.call('HINCRBY', K.agent(agent), 'load', 1)
  redis.call('HSET', K.agent(agent), 'last_assigned_at', NOW)
  redis.call('SADD', K.agent_open(agent), vid)
  interacted(vid, agent)
  event(vid, 'type', 'assigned', 'actor', 'router', 'agent', agent, 'rule', rule,
        'reason', reason, 'skipped', skipped or '')
  mark_card(vid)
  mark('alert', vid)
end

-- Carry out a decision for a conversation that has no place yet; returns the assignee or ''.
local function place(vid, d, skipped)
  local conv = K.conv(vid)
  local why = table.concat(skipped, '; ')
  if d.department ~= '' then
    redis.call('HSET', conv, 'department', d.department)
  end
  if d.action == 'assign' then
    assign(vid, d.target, d.rule, d.reason, why)
    return d.target
  end
  redis.call('HSET', conv, 'rule', d.rule, 'assignee', '', 'waiting_for', '', 'bot', '0')
  if d.action == 'inbox' then
    redis.call('HSET', conv, 'status', 'waiting', 'waiting_for', d.target)
    enqueue_at(vid, K.inbox(d.target))
  elseif d.action == 'queue' then
    redis.call('HSET', conv, 'status', 'queued')
    enqueue_at(vid, K.dept_queue(d.target))
  elseif d.action == 'bot' then
    redis.call('HSET', conv, 'status', 'bot', 'bot', '1', 'queue', '')
  else
    redis.call('HSET', conv, 'status', 'unassigned')
    enqueue_at(vid, K.unassigned(d.target))
  end
  event(vid, 'type', d.action == 'bot' and 'bot' or 'queued', 'actor', 'router', 'rule', d.rule,
        'target', d.target, 'reason', d.reason, 'skipped', why)
  mark_card(vid)
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
  local depts = redis.call('SMEMBERS', K.agent_depts(agent))
  table.sort(depts)
  while available(agent_state(agent)) do
    local best, best_score, best_from = nil, 0, ''
    local inbox = redis.call('ZRANGE', K.inbox(agent), 0, 0)
    if inbox[1] then
      best, best_from = inbox[1], 'their inbox'
    else
      for _, ref in ipairs(depts) do
        local head = redis.call('ZRANGE', K.dept_queue(ref), 0, 0, 'WITHSCORES')
        if head[1] and (best == nil or tonumber(head[2]) < best_score) then
          best, best_score, best_from = head[1], tonumber(head[2]), 'the queue of ' .. ref
        end
      end
    end
    if not best then
      break
    end
    local rule = redis.call('HGET', K.conv(best), 'rule') or 'department'
    assign(best, agent, rule, cause .. ': ' .. agent .. ' takes it from ' .. best_from, '')
    table.insert(assigned, best)
  end
  return assigned
end

-- Take an open conversation out of wherever it is (assignee, inbox, queue, bot). Returns the
-- agent whose capacity it freed, or ''.
local function release(vid)
  local conv = K.conv(vid)
  unqueue(vid)
  local c = redis.call('HMGET', conv, 'assignee', 'status')
  local old = ''
  if c[1] and c[1] ~= '' and c[2] == 'assigned' then
    old = c[1]
    redis.call('HINCRBY', K.agent(old), 'load', -1)
    redis.call('SREM', K.agent_open(old), vid)
  end
  redis.call('HSET', conv, 'assignee', '', 'waiting_for', '', 'bot', '0')
  return old
end
