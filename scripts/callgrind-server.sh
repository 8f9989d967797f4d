#!/usr/bin/env bash
# Instructions the whole server spends per read_entries call (HTTP, decode, session check,
# statement, encode), counted by callgrind, on SQLite or PostgreSQL. Unlike wall-clock
# figures on a shared machine these counts are exact and comparable between builds; unlike
# benches/call_path.rs they include the HTTP layer and PostgreSQL's client side.
#
# The server runs under valgrind twice on the same seeded data: once for CALLS sequential
# read_entries calls after a warm-up, once for none; the difference divided by CALLS is
# printed. (Under valgrind SQLite reads pass their inline time budget and run on blocking
# threads, so SQLite counts include that hand-off, which a real run mostly skips.)
#
#   scripts/callgrind-server.sh                 # PostgreSQL, 500 calls
#   BACKEND=sqlite CALLS=200 scripts/callgrind-server.sh
#   GROUPWARE_BIN=/tmp/old-groupware scripts/callgrind-server.sh
#
# Environment: BACKEND (postgres), CALLS (500), CONTACTS (100), KEEP (1 keeps the
# callgrind output in the printed directory), PG_URL (postgres://postgres@127.0.0.1:5432/test;
# a throw-away schema is created and dropped with psql), GROUPWARE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${BACKEND:-postgres}
CALLS=${CALLS:-500}
CONTACTS=${CONTACTS:-100}
KEEP=${KEEP:-0}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS="-c client_min_messages=warning"
# free_port, wait_port, fresh_database, vacuum_schema, require, cleanup_single_server
source scripts/lib.sh
require valgrind python3

cargo build --release --quiet --bin groupware
BIN=${GROUPWARE_BIN:-$PWD/target/release/groupware}
WORK=$(mktemp -d)
SCHEMA=""
SERVER_PID=""
trap cleanup_single_server EXIT

fresh_database "$BACKEND" callgrind

PASSWORD=bench-password-1
echo "$PASSWORD" | RUST_LOG=warn "$BIN" user add bench --apps addressbook --password-stdin \
    --database "$URL" >/dev/null
PORT=$(free_port)
RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database "$URL" >"$WORK/seed.log" 2>&1 &
SERVER_PID=$!
wait_port "$PORT"
python3 scripts/bench_seed.py "http://127.0.0.1:$PORT/xmlrpc" bench "$PASSWORD" "$CONTACTS" \
    "$WORK" | sed "s/^/# $BACKEND /"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
if [ "$BACKEND" = postgres ]; then
    vacuum_schema
fi

# calls N -> the server's total instructions over a warm-up and N read_entries calls
calls() {
    local port out
    port=$(free_port)
    out="$WORK/callgrind.$1.out"
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" serve \
        --listen "127.0.0.1:$port" --database "$URL" >"$WORK/valgrind.$1.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$port" 30 # valgrind starts slowly
    python3 - "$port" "$WORK" 20 "$1" <<'EOF'
import http.client, sys
port, work, warmup, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = open(f"{work}/request.xml", "rb").read()
auth = open(f"{work}/auth").read().strip()
connection = http.client.HTTPConnection("127.0.0.1", int(port))
for _ in range(warmup + calls):
    connection.request("POST", "/xmlrpc", body,
                       {"Content-Type": "text/xml", "Authorization": "Basic " + auth})
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200 or b"<fault>" in answer:
        sys.exit(f"not a measurement: status {response.status}, {answer[:200]!r}")
EOF
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    sed -n 's/^summary: //p' "$out"
}

with=$(calls "$CALLS")
without=$(calls 0)
echo "$BACKEND: $(( (with - without) / CALLS )) instructions per read_entries call" \
    "($with with $CALLS calls, $without without, $CONTACTS contacts)"
[ "$KEEP" = 1 ] && echo "callgrind output kept in $WORK"
exit 0
