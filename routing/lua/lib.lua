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

-- Routing. The department rule: an online member under capacity, fewest open conversations
-- first, then the one whose last assignment is oldest (idle longest).
local function pick_agent(campaign, dept)
  local best, best_load, best_idle = nil, 0, 0
  local members = redis.call('SMEMBERS', P .. 'dept:' .. campaign .. '/' .. dept .. ':members')
  table.sort(members)
  for _, agent in ipairs(members) do
    local a = redis.call('HMGET', P .. 'agent:' .. agent, 'presence', 'load', 'capacity', 'last_assigned_at')
    local load, cap, idle = tonumber(a[2] or '0'), tonumber(a[3] or '0'), tonumber(a[4] or '0')
    if a[1] == 'online' and load < cap then
      if best == nil or load < best_load or (load == best_load and idle < best_idle) then
        best, best_load, best_idle = agent, load, idle
      end
    end
  end
  return best
end

local function assign(vid, agent, rule, reason)
  redis.call('HSET', P .. 'conv:' .. vid, 'assignee', agent, 'assigned_at', NOW,
             'status', 'assigned', 'rule', rule)
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'load', 1)
  redis.call('HSET', P .. 'agent:' .. agent, 'last_assigned_at', NOW)
  event(vid, 'type', 'assigned', 'actor', 'router', 'agent', agent, 'rule', rule, 'reason', reason)
  redis.call('ZADD', P .. 'pending', NOW, 'card:' .. vid)
end

-- Place a new conversation. Returns the assignee or ''.
local function route(vid, campaign, dept)
  if dept == '' then
    redis.call('HSET', P .. 'conv:' .. vid, 'status', 'unassigned')
    redis.call('ZADD', P .. 'unassigned:' .. campaign, NOW, vid)
    event(vid, 'type', 'queued', 'actor', 'router', 'rule', 'unassigned',
          'reason', 'campaign ' .. campaign .. ' has no default department: unassigned queue')
    return ''
  end
  redis.call('HSET', P .. 'conv:' .. vid, 'department', dept)
  local agent = pick_agent(campaign, dept)
  if agent then
    assign(vid, agent, 'department',
           'department ' .. dept .. ': ' .. agent .. ' is online with free capacity (fewest open, idle longest)')
    return agent
  end
  redis.call('HSET', P .. 'conv:' .. vid, 'status', 'queued')
  redis.call('ZADD', P .. 'dept:' .. campaign .. '/' .. dept .. ':queue', NOW, vid)
  event(vid, 'type', 'queued', 'actor', 'router', 'rule', 'department',
        'reason', 'no online agent of department ' .. dept .. ' has free capacity: waiting in its queue')
  return ''
end
