-- A bulk of active messages: every recipient stored with its state ('queued', or 'skipped'
-- with the reason: a repeated phone, an opted-out contact), then one work mark per chunk
-- (bulk:b3.0, bulk:b3.1 ...) so that several workers share it, and the requester's progress
-- message. Idempotent on the caller's key.
-- ARGV: prefix now idem_key chunk_size n_meta meta(field value)... then (phone input_json)...
local idem, chunk, nmeta = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local seen = idem_seen(idem)
if seen then
  return seen
end
local bid = 'b' .. redis.call('HINCRBY', K.seq, 'bulk', 1)
local meta = {}
for i = 6, 5 + nmeta, 2 do
  meta[ARGV[i]] = ARGV[i + 1]
  redis.call('HSET', K.bulk(bid), ARGV[i], ARGV[i + 1])
end
local n, skipped, phones = 0, 0, {}
for i = 6 + nmeta, #ARGV, 2 do
  local phone = ARGV[i]
  n = n + 1
  redis.call('HSET', K.bulk_input(bid), n, ARGV[i + 1])
  local cid = redis.call('HGET', K.ident, phone)
  local why = nil
  if phones[phone] then
    why = 'duplicate of recipient ' .. phones[phone]
  elseif cid and opted_out(cid, meta.campaign_addr) then
    why = 'opted out'
  end
  phones[phone] = phones[phone] or n
  if why then
    skipped = skipped + 1
    redis.call('HSET', K.bulk_state(bid), n, 'skipped')
    redis.call('HSET', K.bulk_why(bid), n, why)
  else
    redis.call('HSET', K.bulk_state(bid), n, 'queued')
  end
end
redis.call('HSET', K.bulk(bid), 'id', bid, 'status', n > skipped and 'running' or 'done',
           'created_at', NOW, 'total', n, 'skipped', skipped, 'open', n - skipped,
           'chunk', chunk)
redis.call('ZADD', K.bulks, NOW, bid)
for c = 0, math.ceil(n / chunk) - 1 do
  mark('bulk', bid .. '.' .. c)
end
mark_progress(bid, true)
return idem_reply(idem, 'created', {bulk = bid, total = n, skipped = skipped,
                                    status = n > skipped and 'running' or 'done'})
