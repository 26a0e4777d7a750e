#!/usr/bin/env bash
# A throw-away Redis test server on 127.0.0.1:${REDIS_PORT:-56379} (no persistence).
#   scripts/redis.sh start   install (if needed) and start -- safe to repeat
#   scripts/redis.sh stop    shutdown nosave (no-op when not running)
#   scripts/redis.sh url     print the REDIS_URL
set -euo pipefail

PORT=${REDIS_PORT:-56379}
DIR=/tmp/clinic-redis-$PORT
export DEBIAN_FRONTEND=noninteractive

log() { echo "redis.sh: $*" >&2; }
# apt output goes to a log that is shown only when the install fails.
apt_install() {
    local aptlog rc=0
    aptlog=$(mktemp)
    { apt-get update -qq && apt-get install -y -q -o Dpkg::Use-Pty=0 "$@"; } >"$aptlog" 2>&1 </dev/null || rc=$?
    [ "$rc" = 0 ] || { echo "apt-get failed (exit $rc):" >&2; tail -n 40 "$aptlog" >&2; }
    rm -f "$aptlog"
    return "$rc"
}
# Liveness is checked with PING: `--daemonize yes` exits 0 even when the port is busy,
# and a stopped daemon may linger as <defunct>, so neither the exit code nor `kill -0` tells.
alive() { [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]; }

install_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    log "installing redis-server"
    apt_install redis-server
}

start() {
    install_redis
    if alive; then
        log "already running on 127.0.0.1:$PORT"
        return 0
    fi
    mkdir -p "$DIR"
    log "starting on 127.0.0.1:$PORT (dir $DIR, log $DIR/redis.log)"
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes \
        --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR" \
        --save '' --appendonly no --maxmemory-policy noeviction
    for _ in $(seq 100); do
        if alive; then
            log "ready: $(url)"
            return 0
        fi
        sleep 0.1
    done
    log "no PONG on port $PORT after 10 s (port busy?); last lines of $DIR/redis.log:"
    tail -n 20 "$DIR/redis.log" >&2 || true
    exit 1
}

stop() {
    if ! alive; then
        log "not running (port $PORT)"
        return 0
    fi
    redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 50); do
        alive || {
            log "stopped (port $PORT)"
            return 0
        }
        sleep 0.1
    done
    log "still answering on port $PORT after shutdown"
    exit 1
}

url() { echo "redis://127.0.0.1:$PORT/0"; }

case "${1:-}" in
start) start ;;
stop) stop ;;
url) url ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
