-- wrk script for `make bench`: replays prepared requests and reports JSON on stdout.
--
-- Environment (set by bench_service.py):
--   BENCH_FILE     requests, one a line: method \t path \t bearer token or "-" \t body or "-"
--                  \t idempotency key or "-"
--   BENCH_THREADS  wrk threads (= connections: one connection a thread keeps request and
--                  response paired, which BENCH_SAVE and BENCH_ONCE rely on)
--   BENCH_ONCE     "1": each request is sent once (thread k takes items k, k+n, ...); when a
--                  thread runs out it stops. Otherwise every thread cycles over all items,
--                  each from its own starting point.
--   BENCH_SAVE     optional path prefix: thread k writes "<item>\t<status>\t<body>" to
--                  <prefix><k>.tsv for every response.
--   BENCH_PORTS    optional "p1,p2,...": thread k connects to port k mod n on the URL's host,
--                  so connections spread evenly over server processes (what a round-robin
--                  load balancer in front of them would do).

local threads = {}
local counter = 0

local addrs = nil

function setup(thread)
  local ports = os.getenv("BENCH_PORTS") or ""
  if addrs == nil and ports ~= "" then
    addrs = {}
    for port in string.gmatch(ports, "%d+") do
      table.insert(addrs, wrk.lookup(wrk.host, port)[1])
    end
  end
  if addrs ~= nil then thread.addr = addrs[(counter % #addrs) + 1] end
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local items = {}
local idx = 0
local pending = 0
local once = false
local save = nil
local fallback = nil

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "([^\t]*)\t?") do
    table.insert(fields, field)
    if #fields == 5 then break end
  end
  return fields
end

function init(args)
  local me = id
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  once = os.getenv("BENCH_ONCE") == "1"
  local prefix = os.getenv("BENCH_SAVE") or ""
  if prefix ~= "" then
    save = io.open(prefix .. me .. ".tsv", "w")
    save:setvbuf("line")
  end
  local i = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if (not once) or i % n == me then
      local f = split(line)
      local headers = {}
      if f[3] ~= "-" then headers["Authorization"] = "Bearer " .. f[3] end
      local body = nil
      if f[4] ~= "-" then
        body = f[4]
        headers["Content-Type"] = "application/json"
      end
      if f[5] ~= "-" then headers["Idempotency-Key"] = f[5] end
      table.insert(items, {i, wrk.format(f[1], f[2], headers, body)})
    end
    i = i + 1
  end
  if not once then idx = math.floor(#items * me / n) end
  fallback = wrk.format("GET", "/healthz")
  ok, created, replayed, other, sent = 0, 0, 0, 0, 0
  exhausted = 0
end

function request()
  idx = idx + 1
  if idx > #items then
    if once then
      exhausted = 1
      wrk.thread:stop()
      pending = -1
      return fallback
    end
    idx = 1
  end
  pending = items[idx][1]
  sent = sent + 1
  return items[idx][2]
end

function response(status, headers, body)
  if pending < 0 then return end
  if status == 201 then
    if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
      replayed = replayed + 1
    else
      created = created + 1
    end
  elseif status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
  if save then save:write(pending, "\t", status, "\t", body, "\n") end
end

function done(summary, latency, requests)
  local totals = {ok = 0, created = 0, replayed = 0, other = 0, sent = 0, exhausted = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(totals) do totals[k] = totals[k] + (tonumber(t:get(k)) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "ok": %d, "created": %d, "replayed": %d, ' ..
    '"other": %d, "sent": %d, "exhausted_threads": %d, "errors": {"connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"mean": %.1f, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, totals.ok, totals.created, totals.replayed,
    totals.other, totals.sent, totals.exhausted, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
