#!/usr/bin/env bash
# HTTP benchmark of the way clients load the server: log in once, then POST
# addressbook.boaddressbook.read_entries({start: 0, limit: 25}) with Basic sessionid:kp3
# over 32 keep-alive connections. The server runs pinned to core 0, wrk to core 1.
# Each run measures the ceiling (examples/ceiling.rs: a warp server answering every POST
# with the same captured 25-contact response) right before our server, so every ratio
# compares two figures of the same moment. Prints per-run lines and medians, and the
# server's resident size sampled during the runs and its lifetime peak (VmHWM).
#
#   scripts/bench-http.sh                 # SQLite and PostgreSQL, 5 runs of 10 s each
#   RUNS=3 DURATION=5 BACKENDS=sqlite scripts/bench-http.sh
#   STORM=0 scripts/bench-http.sh         # skip the login-storm run
#
# Environment: RUNS (5), DURATION (seconds, 10), CONNECTIONS (32), CONTACTS (100),
# BACKENDS ("sqlite postgres"), STORM (1), STORM_CONNECTIONS (4),
# PG_URL (postgres://postgres@127.0.0.1:5432/test; a throw-away schema is created and
# dropped with psql), SERVER_CPU (0), CLIENT_CPU (1), GROUPWARE_BIN (another build of the
# server to measure, e.g. a copy of the binary before a change).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
CONTACTS=${CONTACTS:-100}
BACKENDS=${BACKENDS:-sqlite postgres}
STORM=${STORM:-1}
STORM_CONNECTIONS=${STORM_CONNECTIONS:-4}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS="-c client_min_messages=warning"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq wrk
    else
        echo "wrk is missing: install the Debian package (sudo apt-get install wrk)" >&2
        exit 1
    fi
fi
for tool in taskset python3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

cargo build --release --quiet --bin groupware --example ceiling
BIN=${GROUPWARE_BIN:-$PWD/target/release/groupware}
CEILING=$PWD/target/release/examples/ceiling

WORK=$(mktemp -d)
export BENCH_DIR=$WORK
PIDS=()
SCHEMA=""
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$SCHEMA" ]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# free_port, wait_port, fresh_database, vacuum_schema
source scripts/lib.sh
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
drive() { # drive PORT SCRIPT CONNECTIONS [SECONDS] -> the BENCH/LOGIN line
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$3" -d"${4:-$DURATION}s" -s "$2" "http://127.0.0.1:$1/xmlrpc" \
        | grep -E '^(BENCH|LOGIN) '
}

PASSWORD=bench-password-1
CEILING_PORT=""
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# runs=$RUNS duration=$DURATION connections=$CONNECTIONS contacts=$CONTACTS"

for backend in $BACKENDS; do
    fresh_database "$backend" bench_http
    for user in bench storm; do
        echo "$PASSWORD" | RUST_LOG=warn "$BIN" user add "$user" --apps addressbook --password-stdin \
            --database "$URL" >/dev/null
    done
    PORT=$(free_port)
    RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" serve --listen "127.0.0.1:$PORT" \
        --database "$URL" >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$PORT"
    python3 scripts/bench_seed.py "http://127.0.0.1:$PORT/xmlrpc" bench "$PASSWORD" \
        "$CONTACTS" "$WORK" | sed "s/^/# $backend /"
    if [ "$backend" = postgres ]; then
        vacuum_schema # autovacuum may be off (the server warns at start)
    fi
    if [ -z "$CEILING_PORT" ]; then
        CEILING_PORT=$(free_port)
        taskset -c "$SERVER_CPU" "$CEILING" "127.0.0.1:$CEILING_PORT" "$WORK/response.xml" &
        PIDS+=("$!")
        wait_port "$CEILING_PORT"
    fi
    drive "$PORT" scripts/bench-read-entries.lua "$CONNECTIONS" >/dev/null # warm-up
    # Resident size while the runs go on (the peak, VmHWM, also counts the login's
    # password hash, whose working memory is released after it).
    (
        max=0
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
            [ "${rss:-0}" -gt "$max" ] && max=$rss && echo "$max" >"$WORK/rss-$backend"
            sleep 0.2
        done
    ) &
    SAMPLER_PID=$!
    PIDS+=("$SAMPLER_PID")
    : >"$WORK/runs"
    for run in $(seq "$RUNS"); do
        ceiling=$(drive "$CEILING_PORT" scripts/bench-read-entries.lua "$CONNECTIONS")
        ours=$(drive "$PORT" scripts/bench-read-entries.lua "$CONNECTIONS")
        c_rps=$(echo "$ceiling" | field rps)
        o_rps=$(echo "$ours" | field rps)
        ratio=$(awk -v o="$o_rps" -v c="$c_rps" 'BEGIN {printf "%.1f", 100 * o / c}')
        echo "$backend run $run: ceiling $c_rps req/s (p50 $(echo "$ceiling" | field p50_us) us," \
            "p99 $(echo "$ceiling" | field p99_us) us); ours $o_rps req/s ($ratio %)," \
            "p50 $(echo "$ours" | field p50_us) us, p99 $(echo "$ours" | field p99_us) us," \
            "errors $(echo "$ours" | field errors)"
        if [ "$(echo "$ours" | field errors)" != 0 ]; then
            echo "$backend run $run: some replies were errors or faults; not a measurement" >&2
            exit 1
        fi
        echo "$c_rps $o_rps $ratio $(echo "$ours" | field p50_us) $(echo "$ours" | field p99_us)" \
            "$(echo "$ceiling" | field p99_us)" >>"$WORK/runs"
    done
    kill "$SAMPLER_PID" 2>/dev/null || true
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    during=$(cat "$WORK/rss-$backend" 2>/dev/null || echo 0)
    col() { awk "{print \$$1}" "$WORK/runs" | median; }
    echo "$backend MEDIAN: ceiling $(col 1) req/s, ours $(col 2) req/s, ratio $(col 3) %," \
        "p50 $(col 4) us, p99 $(col 5) us (the ceiling's p99 $(col 6) us)," \
        "RSS during the runs $((during / 1024)) MiB," \
        "peak RSS $((rss / 1024)) MiB"
    if [ "$STORM" = 1 ]; then
        BENCH_USER=storm BENCH_PASSWORD=$PASSWORD \
            drive "$PORT" scripts/bench-login.lua "$STORM_CONNECTIONS" $((DURATION + 2)) >"$WORK/storm" &
        storm_pid=$!
        sleep 1
        ours=$(drive "$PORT" scripts/bench-read-entries.lua "$CONNECTIONS")
        wait "$storm_pid"
        echo "$backend LOGIN STORM: read_entries $(echo "$ours" | field rps) req/s," \
            "p50 $(echo "$ours" | field p50_us) us, p99 $(echo "$ours" | field p99_us) us," \
            "errors $(echo "$ours" | field errors);" \
            "logins $(field rps <"$WORK/storm") /s, login p99 $(field p99_us <"$WORK/storm") us"
    fi
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    if [ "$backend" = postgres ]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null
        SCHEMA=""
    fi
done
