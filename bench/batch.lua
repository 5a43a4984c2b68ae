-- wrk script: POST batches of BATCH fresh random SHA-256 digests (default 1000, at most
-- 10,000) to the URL given to wrk (http://HOST:PORT/v1/timestamps/batch).
--
--   BATCH=10000 wrk -t1 -c4 -d20s --latency -s bench/batch.lua http://127.0.0.1:18580/v1/timestamps/batch
--
-- Every digest of every request is drawn anew, so each one is a new log entry. The summary
-- at the end gives the digests per second of the batches answered 2xx.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local n = tonumber(os.getenv("BATCH") or "1000")

local hex = {}
for i = 0, 65535 do hex[i] = string.format("%04x", i) end

local function urandom_seed()
  local seed = 0
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(6)
    f:close()
    for i = 1, #b do seed = seed * 256 + b:byte(i) end
  end
  return seed
end

local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("id", nthreads)
end

local random = math.random
local parts, items = {}, {}

function init(args)
  math.randomseed(urandom_seed() + (id or 0))
  for _ = 1, 16 do random() end
end

function request()
  for j = 1, n do
    for i = 1, 16 do parts[i] = hex[random(0, 65535)] end
    items[j] = '"' .. table.concat(parts) .. '"'
  end
  return wrk.format(nil, nil, nil, '{"digests":[' .. table.concat(items, ",", 1, n) .. ']}')
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local ok = summary.requests - e.status
  io.write(string.format("batches %d of %d digests, non-2xx/3xx %d, socket errors connect %d read %d write %d timeout %d\n",
    summary.requests, n, e.status, e.connect, e.read, e.write, e.timeout))
  io.write(string.format("accepted digests/s %.0f (%.2f batches/s) over %.2f s\n", ok * n / secs, ok / secs, secs))
  io.write(string.format("batch latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
