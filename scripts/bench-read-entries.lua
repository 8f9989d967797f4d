-- wrk script: POST the read_entries call with Basic sessionid:kp3 over keep-alive.
-- Reads $BENCH_DIR/request.xml and $BENCH_DIR/auth (written by bench_seed.py).
local dir = os.getenv("BENCH_DIR")
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
wrk.method = "POST"
wrk.path = "/xmlrpc"
wrk.body = slurp(dir .. "/request.xml")
wrk.headers["Content-Type"] = "text/xml"
wrk.headers["Authorization"] = "Basic " .. slurp(dir .. "/auth")

-- Replies that are not a successful methodResponse (a fault answers with status 200, so
-- wrk's own error counts would miss it). Each wrk thread has its own Lua state: `bad` is
-- a global per thread, summed through the thread handles in done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

bad = 0
function response(status, headers, body)
  if status ~= 200 or not body:find("<methodResponse>", 1, true) or body:find("<fault>", 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local faults = 0
  for _, thread in ipairs(threads) do
    faults = faults + (thread:get("bad") or 0)
  end
  io.write(string.format("BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout + faults))
end
