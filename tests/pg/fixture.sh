#!/bin/sh
# fixture.sh - the throwaway PostgreSQL server one `ctest` run shares (a CTest fixture).
#
#   fixture.sh start STATE   starts a server (pgtmp.sh) in a fresh folder under the system's
#                            temporary directory and writes its URL to STATE, and the folder
#                            to STATE.dir
#   fixture.sh stop STATE    stops it and removes the folder and STATE
#
# The folder is outside the build tree because, as root, the server runs as `postgres`, which
# must be able to reach it. Tests read the URL from the file named by FERRY_TEST_PG_STATE and
# each creates a database of its own on the server.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
state=${2:-}
[ -n "$state" ] || { echo "usage: fixture.sh start|stop STATE" >&2; exit 2; }

stop() {
    if [ -f "$state.dir" ]; then
        dir=$(cat "$state.dir")
        "$here/pgtmp.sh" stop "$dir/cluster" || true
        rm -rf "$dir"
    fi
    rm -f "$state" "$state.dir"
}

case "$cmd" in
start)
    stop # a server left by an interrupted run
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX")
    chmod 755 "$dir"
    echo "$dir" >"$state.dir"
    url=$("$here/pgtmp.sh" start "$dir/cluster")
    echo "$url" >"$state"
    echo "PostgreSQL for the tests: $url"
    ;;
stop)
    stop
    ;;
*)
    echo "usage: fixture.sh start|stop STATE" >&2
    exit 2
    ;;
esac
