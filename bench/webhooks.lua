-- wrk script: POST pre-signed Twilio webhooks, each once, in order (see bench/wrk.py).
-- wrk -s bench/webhooks.lua URL -- FILE FIRST COUNT
-- FILE holds one "signature<TAB>form body" record per line; this thread sends records
-- FIRST .. FIRST+COUNT-1 and starts over (counted in `wraps`) only if it runs out.
local requests, n, i = {}, 0, 0
wraps = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local first, count = tonumber(args[2]), tonumber(args[3])
  local index = 0
  for line in io.lines(args[1]) do
    if index >= first + count then break end
    if index >= first then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      n = n + 1
      requests[n] = wrk.format("POST", nil, {
        ["X-Twilio-Signature"] = sig,
        ["Content-Type"] = "application/x-www-form-urlencoded",
      }, body)
    end
    index = index + 1
  end
end

function request()
  i = i + 1
  if i > n then
    i, wraps = 1, wraps + 1
  end
  return requests[i]
end

function done(summary, latency, _)
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("wraps") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "wraps": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    wrapped))
end
