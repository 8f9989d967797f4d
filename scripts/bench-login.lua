-- wrk script: a storm of system.login calls (Argon2id), for the login-storm run.
local user = os.getenv("BENCH_USER")
local password = os.getenv("BENCH_PASSWORD")
wrk.method = "POST"
wrk.path = "/xmlrpc"
wrk.headers["Content-Type"] = "text/xml"
wrk.body = "<?xml version=\"1.0\"?><methodCall><methodName>system.login</methodName><params>"
  .. "<param><value><struct><member><name>username</name><value><string>" .. user
  .. "</string></value></member><member><name>password</name><value><string>" .. password
  .. "</string></value></member></struct></value></param></params></methodCall>"

function done(summary, latency, requests)
  io.write(string.format("LOGIN rps=%.1f p50_us=%d p99_us=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), summary.requests))
end
