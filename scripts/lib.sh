# Shell helpers the benchmark scripts source (bench-http.sh, load-test.sh,
# callgrind-server.sh).

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
