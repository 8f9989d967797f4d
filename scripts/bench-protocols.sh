#!/usr/bin/env bash
# Server processor time per read_entries({start: 0, limit: 25}) call in each protocol:
# XML-RPC, JSON-RPC, SOAP rpc/encoded and SOAP document/literal, on the same seeded
# addressbook (25-contact pages of ten filled fields, as bench-http.sh seeds them).
# Calls are sequential over one keep-alive connection; the figure is the server's
# user + system time (from /proc) divided by the calls, so it counts the codec's work
# and not the machine's queueing. Rounds alternate the protocols.
#
#   scripts/bench-protocols.sh                          # SQLite, 2,000 calls, 3 rounds
#   BACKEND=postgres CALLS=1000 ROUNDS=5 scripts/bench-protocols.sh
#   GROUPWARE_BIN=/tmp/old-groupware scripts/bench-protocols.sh   # another build
#
# Environment: BACKEND (sqlite), CALLS (2000), ROUNDS (3), CONTACTS (100), SERVER_CPU (0),
# PG_URL (postgres://postgres@127.0.0.1:5432/test; a throw-away schema is created and
# dropped with psql), GROUPWARE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${BACKEND:-sqlite}
CALLS=${CALLS:-2000}
ROUNDS=${ROUNDS:-3}
CONTACTS=${CONTACTS:-100}
SERVER_CPU=${SERVER_CPU:-0}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS="-c client_min_messages=warning"
# free_port, wait_port, fresh_database, vacuum_schema, require, cleanup_single_server
source scripts/lib.sh
require taskset python3

cargo build --release --quiet --bin groupware
BIN=${GROUPWARE_BIN:-$PWD/target/release/groupware}
WORK=$(mktemp -d)
SCHEMA=""
SERVER_PID=""
trap cleanup_single_server EXIT

PASSWORD=bench-password-1
fresh_database "$BACKEND" protocols
echo "$PASSWORD" | RUST_LOG=warn "$BIN" user add bench --apps addressbook --password-stdin \
    --database "$URL" >/dev/null
PORT=$(free_port)
RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" serve --listen "127.0.0.1:$PORT" \
    --database "$URL" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_port "$PORT"
BENCH_DIR=$WORK python3 scripts/bench_seed.py "http://127.0.0.1:$PORT/xmlrpc" bench "$PASSWORD" \
    "$CONTACTS" "$WORK" | sed "s/^/# /"
if [ "$BACKEND" = postgres ]; then
    vacuum_schema
fi
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $BACKEND, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), calls=$CALLS rounds=$ROUNDS"
python3 scripts/bench_protocols.py "http://127.0.0.1:$PORT" bench "$PASSWORD" "$SERVER_PID" \
    "$CALLS" "$ROUNDS"
