-- Before one bulk recipient is sent: its state moves queued -> sending and its message is
-- stored, so that a send is never repeated. A recipient left 'sending' by a worker that died
-- mid-send may have reached Twilio: it is not sent again but reported as uncertain (the same
-- provider window as replies, resolved the other way: at most once). Cancelled bulks and
-- opted-out contacts settle without a send.
-- ARGV: prefix now bid index
local bid, idx = ARGV[3], ARGV[4]
local b = redis.call('HMGET', K.bulk(bid), 'status', 'campaign_addr', 'channel', 'campaign',
                     'department', 'template', 'content_sid', 'requester')
local state = redis.call('HGET', K.bulk_state(bid), idx)

local function settle_without_send(new_state, why)
  redis.call('HSET', K.bulk_state(bid), idx, new_state)
  redis.call('HSET', K.bulk_why(bid), idx, why)
  local open = redis.call('HINCRBY', K.bulk(bid), 'open', -1)
  if open <= 0 and b[1] == 'running' then
    redis.call('HSET', K.bulk(bid), 'status', 'done', 'finished_at', NOW)
  end
  mark_progress(bid, open <= 0)
  return reply('skip', {reason = why})
end

if state == 'sending' then
  return settle_without_send('failed', 'uncertain: the worker stopped during the send; not '
                             .. 'sent again so that nobody gets it twice')
end
if state ~= 'queued' then
  return reply('done')
end
if b[1] == 'cancelled' then
  return settle_without_send('cancelled', 'the bulk was cancelled')
end
local input = cjson.decode(redis.call('HGET', K.bulk_input(bid), idx))
local cid = contact_for_phone(input.to, '')
if opted_out(cid, b[2]) then
  return settle_without_send('skipped', 'opted out')
end
if b[5] and b[5] ~= '' then  -- the reply goes to the department the bulk names
  redis.call('HSET', K.contact(cid), 'reply_dept:' .. b[4], b[5], 'reply_dept_at:' .. b[4], NOW)
end
local mid = redis.call('HGET', K.bulk_msg(bid), idx)
if not mid then
  mid = 'm' .. redis.call('HINCRBY', K.seq, 'msg', 1)
  redis.call('HSET', K.msg(mid), 'id', mid, 'conv', '', 'bulk', bid, 'bulk_index', idx,
             'contact', cid, 'direction', 'out', 'author', b[8] or '', 'body', input.text,
             'media', '[]', 'template', b[6] or '', 'content_sid', b[7] or '',
             'content_variables', input.vars or '', 'status', 'queued', 'created_at', NOW)
  redis.call('HSET', K.bulk_msg(bid), idx, mid)
end
redis.call('HSET', K.bulk_state(bid), idx, 'sending')
local to = (b[3] == 'whatsapp' and 'whatsapp:' or '') .. input.to
return reply('send', {message = mid, to = to, from_ = b[2], body = input.text,
                      content_sid = b[7] or '', content_variables = input.vars or ''})
