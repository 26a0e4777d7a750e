#!/usr/bin/env bash
# A throw-away PostgreSQL 15 test server on 127.0.0.1:${PGPORT:-55432}.
#   scripts/postgres.sh start   install (if needed), init, start, create role/db `app` -- safe to repeat
#   scripts/postgres.sh stop    fast shutdown (no-op when not running)
#   scripts/postgres.sh url     print the DATABASE_URL for the `app` database
# Runs as root; the server itself runs as the `postgres` user (initdb/postgres refuse root).
# fsync is off: never put data you care about in it.
set -euo pipefail

PGPORT=${PGPORT:-55432}
PGBIN=/usr/lib/postgresql/15/bin
PGROOT=/tmp/clinic-pg-$PGPORT # directly under /tmp: every parent must be traversable by `postgres`
PGDATA_DIR=$PGROOT/data
export DEBIAN_FRONTEND=noninteractive

log() { echo "postgres.sh: $*" >&2; }
# apt output goes to a log that is shown only when the install fails.
apt_install() {
    local aptlog rc=0
    aptlog=$(mktemp)
    { apt-get update -qq && apt-get install -y -q -o Dpkg::Use-Pty=0 "$@"; } >"$aptlog" 2>&1 </dev/null || rc=$?
    [ "$rc" = 0 ] || { echo "apt-get failed (exit $rc):" >&2; tail -n 40 "$aptlog" >&2; }
    rm -f "$aptlog"
    return "$rc"
}
as_pg() { (cd / && runuser -u postgres -- "$@"); }
psql_su() { PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

pm_pid() { head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }
defunct() { [ -n "$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# pg_ctl status trusts kill(pid, 0), which also succeeds for a postmaster that was killed but not
# reaped: dead daemons can linger as <defunct> under a PID 1 that does not reap. Such a zombie
# counts as not running.
running() {
    [ -s "$PGDATA_DIR/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 &&
        ! defunct "$(pm_pid)"
}
ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -U postgres; }

# A server that is starting up or shutting down: wait (up to 10 s) until it answers or is gone.
settle() {
    for _ in $(seq 100); do
        running || return 0
        ready && return 0
        sleep 0.1
    done
}

# The lock files of a defunct postmaster stop a new one from starting ("lock file already exists").
# Remove them once no live process is left in the data directory (backends chdir there).
drop_defunct_locks() {
    local f pid busy
    for f in "$PGDATA_DIR/postmaster.pid" "$PGROOT/.s.PGSQL.$PGPORT.lock"; do
        pid=$(head -n 1 "$f" 2>/dev/null || true)
        defunct "$pid" || continue
        for _ in $(seq 50); do
            busy=0
            for d in /proc/[0-9]*; do
                [ "$(readlink "$d/cwd" 2>/dev/null)" = "$PGDATA_DIR" ] && { busy=1 && break; }
            done
            [ "$busy" = 0 ] && break
            sleep 0.1
        done
        log "postmaster $pid is defunct; removing stale $f"
        rm -f "$f"
    done
}

install_pg() {
    [ -x "$PGBIN/postgres" ] && return 0
    log "installing postgresql + postgresql-contrib"
    apt_install postgresql postgresql-contrib
}

start() {
    install_pg
    mkdir -p "$PGROOT"
    chown postgres: "$PGROOT"
    if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
        log "initdb $PGDATA_DIR"
        as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    settle
    if running; then
        if ! ready; then
            log "server for $PGDATA_DIR is up but not answering on 127.0.0.1:$PGPORT; see $PGROOT/log"
            exit 1
        fi
        log "already running on 127.0.0.1:$PGPORT"
    elif ready; then
        log "port $PGPORT is held by another server; set PGPORT to a free port"
        exit 1
    else
        drop_defunct_locks
        log "starting on 127.0.0.1:$PGPORT (data $PGDATA_DIR, log $PGROOT/log)"
        if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGROOT/log" -w -t 60 -o "-p $PGPORT \
            -c listen_addresses=127.0.0.1 -k $PGROOT -c max_connections=200 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
            log "start failed; last lines of $PGROOT/log:"
            tail -n 20 "$PGROOT/log" >&2 || true
            exit 1
        fi
    fi
    psql_su -d postgres <<'SQL'
SELECT 'CREATE ROLE app LOGIN CREATEDB PASSWORD ''app''' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app')\gexec
SELECT 'CREATE DATABASE app OWNER app' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app')\gexec
SQL
    # In template1 too, so Django's test_* databases inherit it.
    for db in app template1; do
        psql_su -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS btree_gist'
    done
    log "ready: $(url)"
}

stop() {
    settle
    if running; then
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
        log "stopped (port $PGPORT)"
    else
        log "not running (port $PGPORT)"
    fi
}

url() { echo "postgres://app:app@127.0.0.1:$PGPORT/app"; }

case "${1:-}" in
start) start ;;
stop) stop ;;
url) url ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
