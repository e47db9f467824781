#!/bin/sh
# pgtmp.sh - a throwaway PostgreSQL server for Ferry's tests.
#
#   pgtmp.sh start DIR   initialises a cluster in DIR (which must not exist), starts it on a
#                        free loopback port with its socket in DIR, and prints its URL:
#                        postgres://ferry@127.0.0.1:PORT/ferry
#   pgtmp.sh stop DIR    stops the server (immediate shutdown) and removes DIR (in the
#                        background, after renaming it).
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
# that Debian's package creates; otherwise to the caller. Trust authentication on loopback
# only: the server is reachable from this machine alone and lives as long as the tests.
set -eu

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pgtmp: PostgreSQL is not installed (make deps installs it)" >&2
    exit 2
fi

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: pgtmp.sh start|stop DIR" >&2; exit 2; }

case "$cmd" in
start)
    [ ! -e "$dir" ] || { echo "pgtmp: $dir already exists" >&2; exit 2; }
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres "$dir"
    chmod 700 "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U ferry -A trust -E UTF8 --no-locale \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U ferry ferry
    echo "postgres://ferry@127.0.0.1:$port/ferry"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        # Immediate: the folder is removed next, so the shutdown checkpoint (writing out every
        # test database's dirty pages, about a minute after a whole suite) is work thrown away.
        t0=$(date +%s)
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
        echo "pgtmp: server stopped in $(( $(date +%s) - t0 )) s" >&2
    fi
    # The folder holds every database the tests made (gigabytes after a whole suite): it is
    # renamed at once and removed in the background, so a busy disk does not hold up the end
    # of the run. A removal cut short leaves a folder named ferry-pg-removing.* behind.
    if [ -e "$dir" ]; then
        gone=$(mktemp -u "${TMPDIR:-/tmp}/ferry-pg-removing.XXXXXX")
        mv "$dir" "$gone"
        setsid rm -rf "$gone" </dev/null >/dev/null 2>&1 &
    fi
    ;;
*)
    echo "usage: pgtmp.sh start|stop DIR" >&2
    exit 2
    ;;
esac
