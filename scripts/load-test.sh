#!/usr/bin/env bash
# Load test (issue 9): CLIENTS concurrent clients, each repeating a session (system.login,
# CALLS calls of a fixed mix of contact listings, reads, creates, updates, deletes and
# calendar events, system.logout) for DURATION seconds, on SQLite and on a throw-away
# PostgreSQL schema. The generator is examples/loadtest.rs; it prints requests/s and
# p50/p99/max latency per kind of call and exits non-zero on any error. The script prints
# those and the server's peak RSS, and fails if any run had an error.
#
#   scripts/load-test.sh                        # 200 clients, 60 s, SQLite and PostgreSQL
#   DURATION=20 BACKENDS=sqlite scripts/load-test.sh
#   SLOWLORIS=500 scripts/load-test.sh          # add the slowloris comparison runs
#
# With SLOWLORIS=N, each backend also gets a fixed normal load (SLOW_CLIENTS clients
# pausing SLOW_THINK_MS between calls, SLOW_DURATION seconds) three times: alone; beside N
# slowloris connections spread over 127.0.0.2 and 127.0.0.3; and beside LOCKOUT (default
# 1100, more than the server's whole connection cap) slowloris connections from the one
# address 127.0.0.4, first with the default per-address cap, then with the cap off
# (`--max-connections-per-address 0`), to show what the cap prevents. Errors in that last
# run are expected and do not fail the script.
#
# Environment: DURATION (60), CLIENTS (200), USERS (20; the clients share them), CALLS
# (40 per session), CONTACTS (50 seeded per user), BACKENDS ("sqlite postgres"),
# PG_URL (postgres://postgres@127.0.0.1:5432/test; a schema is created and dropped with
# psql), SLOWLORIS (0), SLOW_CLIENTS (50), SLOW_THINK_MS (100), SLOW_DURATION (30),
# LOCKOUT (1100), GROUPWARE_BIN (another build of the server).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60}
CLIENTS=${CLIENTS:-200}
USERS=${USERS:-20}
CALLS=${CALLS:-40}
CONTACTS=${CONTACTS:-50}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SLOWLORIS=${SLOWLORIS:-0}
SLOW_CLIENTS=${SLOW_CLIENTS:-50}
SLOW_THINK_MS=${SLOW_THINK_MS:-100}
SLOW_DURATION=${SLOW_DURATION:-30}
LOCKOUT=${LOCKOUT:-1100}
export PGOPTIONS="-c client_min_messages=warning"

for tool in python3 psql; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

cargo build --release --quiet --bin groupware --example loadtest
BIN=${GROUPWARE_BIN:-$PWD/target/release/groupware}
LOADTEST=$PWD/target/release/examples/loadtest

WORK=$(mktemp -d)
SERVER_PID=""
SCHEMA=""
FAILED=0
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [ -n "$SCHEMA" ]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# free_port, wait_port, fresh_database, vacuum_schema
source scripts/lib.sh
# start_server URL [extra serve flags...]: sets PORT and SERVER_PID.
start_server() {
    local url=$1
    shift
    PORT=$(free_port)
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database "$url" "$@" \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$PORT"
}
# stop_server: SIGTERM, wait, print the peak RSS.
stop_server() {
    local rss
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    kill -TERM "$SERVER_PID"
    if ! wait "$SERVER_PID"; then
        echo "the server did not exit cleanly on SIGTERM; its log:" >&2
        tail -20 "$WORK/server.log" >&2
        FAILED=1
    fi
    SERVER_PID=""
    echo "  server peak RSS $((rss / 1024)) MiB"
}
# load LABEL [loadtest flags...]: runs the generator, prints its report indented.
load() {
    local label=$1 status=0
    shift
    echo "== $label"
    "$LOADTEST" --url "http://127.0.0.1:$PORT" --users "$USERS" --password "$PASSWORD" \
        --seed-contacts "$CONTACTS" "$@" >"$WORK/out" 2>&1 || status=$?
    sed 's/^/  /' "$WORK/out"
    return "$status"
}

PASSWORD=load-password-1
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m) $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# clients=$CLIENTS users=$USERS calls/session=$CALLS duration=${DURATION}s contacts/user=$CONTACTS"

for backend in $BACKENDS; do
    fresh_database "$backend" load
    for n in $(seq "$USERS"); do
        echo "$PASSWORD" | RUST_LOG=warn "$BIN" user add "load$n" --apps addressbook,calendar \
            --password-stdin --database "$URL" >/dev/null
    done
    start_server "$URL"
    load "$backend: $CLIENTS clients, ${DURATION}s" --clients "$CLIENTS" --duration "$DURATION" \
        --calls-per-session "$CALLS" || FAILED=1
    stop_server

    if [ "$SLOWLORIS" -gt 0 ]; then
        fixed=(--clients "$SLOW_CLIENTS" --think-ms "$SLOW_THINK_MS" --duration "$SLOW_DURATION"
            --calls-per-session "$CALLS")
        start_server "$URL"
        load "$backend slowloris: fixed load alone" "${fixed[@]}" || FAILED=1
        load "$backend slowloris: beside $SLOWLORIS slowloris connections (two addresses)" \
            "${fixed[@]}" --slowloris "$SLOWLORIS" --slowloris-from 127.0.0.2,127.0.0.3 || FAILED=1
        load "$backend slowloris: beside $LOCKOUT slowloris connections from one address" \
            "${fixed[@]}" --slowloris "$LOCKOUT" --slowloris-from 127.0.0.4 || FAILED=1
        stop_server
        start_server "$URL" --max-connections-per-address 0
        load "$backend slowloris: the same without the per-address cap (errors expected)" \
            "${fixed[@]}" --slowloris "$LOCKOUT" --slowloris-from 127.0.0.4 || true
        stop_server
    fi

    if [ "$backend" = postgres ]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null
        SCHEMA=""
    fi
done
if [ "$FAILED" != 0 ]; then
    echo "FAILED: a run had errors (see ERROR lines above)" >&2
    exit 1
fi
echo "OK: no errors"
