-- wrk script of the server-throughput benchmark: collects the Server-Timing durations
-- (cache;dur=…, db;dur=…) and X-Cache of every response, and prints one line at the end:
-- TIMING <responses> <hits> <cache p50> <cache p99> <db p50> <db p99> (ms; the header has
-- 0.1 ms resolution, so the quantiles are exact header values)
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  hits = 0
  cache_hist = {}
  db_hist = {}
end

local function bucket(hist, ms)
  local b = math.floor(ms * 10 + 0.5)
  hist[b] = (hist[b] or 0) + 1
end

function response(status, headers, body)
  responses = responses + 1
  local xcache = headers["x-cache"] or headers["X-Cache"]
  if xcache == "HIT" then hits = hits + 1 end
  local timing = headers["server-timing"] or headers["Server-Timing"]
  if timing then
    local cache = timing:match("cache;dur=([%d%.]+)")
    local db = timing:match("db;dur=([%d%.]+)")
    if cache then bucket(cache_hist, tonumber(cache)) end
    if db then bucket(db_hist, tonumber(db)) end
  end
end

local function merge(into, from)
  for b, n in pairs(from) do into[b] = (into[b] or 0) + n end
end

local function quantile(hist, q)
  local keys, total = {}, 0
  for b, n in pairs(hist) do table.insert(keys, b); total = total + n end
  table.sort(keys)
  local seen = 0
  for _, b in ipairs(keys) do
    seen = seen + hist[b]
    if seen >= q * total then return b / 10 end
  end
  return 0 / 0
end

function done(summary, latency, requests)
  local n, h, cache, db = 0, 0, {}, {}
  for _, thread in ipairs(threads) do
    n = n + thread:get("responses")
    h = h + thread:get("hits")
    merge(cache, thread:get("cache_hist"))
    merge(db, thread:get("db_hist"))
  end
  io.write(string.format("TIMING %d %d %.3f %.3f %.3f %.3f\n", n, h,
    quantile(cache, 0.5), quantile(cache, 0.99), quantile(db, 0.5), quantile(db, 0.99)))
end
