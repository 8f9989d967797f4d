# Shell helpers the benchmark scripts source (bench-http.sh, load-test.sh,
# callgrind-server.sh, bench-protocols.sh).

# free_port -> a TCP port nothing listens on at 127.0.0.1 right now
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS] -> returns once something listens on PORT (10 s by default)
wait_port() {
    for _ in $(seq $((${2:-10} * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# fresh_database BACKEND NAME: sets URL to a new database for the server: the SQLite file
# $WORK/NAME.db, or the PostgreSQL schema gw_NAME_<pid> on $PG_URL, created here (and
# named in SCHEMA, which the caller drops; empty for SQLite)
fresh_database() {
    case $1 in
    sqlite)
        SCHEMA=""
        URL="sqlite://$WORK/$2.db"
        ;;
    postgres)
        SCHEMA="gw_$2_$$"
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
        URL="$PG_URL?schema=$SCHEMA"
        ;;
    *)
        echo "unknown backend $1" >&2
        exit 1
        ;;
    esac
}

# vacuum_schema: VACUUM ANALYZE every table of $SCHEMA, what autovacuum does within a minute
# of a seeding (statistics, all-visible pages); done by hand because it may be off, and a
# plan made without statistics is not the one production runs
vacuum_schema() {
    local tables
    tables=$(psql -Atq "$PG_URL" -c "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables WHERE schemaname = '$SCHEMA'")
    psql -q "$PG_URL" -c "VACUUM ANALYZE $tables" >/dev/null
}

# require TOOL...: exits with a message when one of the tools is missing
require() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
    done
}

# cleanup_single_server: the EXIT trap of a script that runs one server at a time: stops
# $SERVER_PID, drops $SCHEMA (PostgreSQL) and removes $WORK unless KEEP=1
cleanup_single_server() {
    if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [ -n "${SCHEMA:-}" ]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
