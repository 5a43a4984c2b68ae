-- wrk script: POST one fresh random SHA-256 digest per request to the URL given to wrk
-- (http://HOST:PORT/v1/timestamps). Each thread seeds its generator from /dev/urandom.
--
--   wrk -t2 -c32 -d20s --latency -s bench/submit.lua http://127.0.0.1:18580/v1/timestamps
--
-- STATUS=1 in the environment also counts the answers by HTTP status (costs the load
-- generator some CPU: every answer is handed to Lua).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

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

local threads = {}
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("id", nthreads)
  table.insert(threads, thread)
end

local random = math.random
local parts = {}

function init(args)
  math.randomseed(urandom_seed() + (id or 0))
  -- LuaJIT's first values after a seed are poorly mixed: skip a few.
  for _ = 1, 16 do random() end
end

local function digest()
  for i = 1, 16 do parts[i] = hex[random(0, 65535)] end
  return table.concat(parts)
end

function request()
  return wrk.format(nil, nil, nil, '{"digest":"' .. digest() .. '"}')
end

if os.getenv("STATUS") == "1" then
  statuses = {}
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local ok = summary.requests - e.status
  io.write(string.format("requests %d, non-2xx/3xx %d (%.3f%%), socket errors connect %d read %d write %d timeout %d\n",
    summary.requests, e.status, summary.requests > 0 and 100 * e.status / summary.requests or 0,
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("accepted submissions/s %.1f over %.2f s\n", ok / secs, secs))
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  if os.getenv("STATUS") == "1" then
    local total = {}
    for _, t in ipairs(threads) do
      for code, n in pairs(t:get("statuses") or {}) do total[code] = (total[code] or 0) + n end
    end
    local line = "statuses"
    for code, n in pairs(total) do line = line .. string.format(" %s:%d", tostring(code), n) end
    io.write(line .. "\n")
  end
end
