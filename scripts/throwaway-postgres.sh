#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb in a temporary folder, served on
# 127.0.0.1 only, owned by a non-root user (PostgreSQL refuses to run as root).
#
#   scripts/throwaway-postgres.sh start   prints `export TEST_DATABASE_URL=...` and
#                                          `export TEST_POSTGRES_DIR=...` for `eval`
#   scripts/throwaway-postgres.sh stop    stops the cluster in $TEST_POSTGRES_DIR and deletes it
#
# Needs Debian's `postgresql` package (initdb, pg_ctl); `.ci/run` installs it.
set -euo pipefail

bindir() {
    local found
    for found in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
        if [ -x "$found/initdb" ] && [ -x "$found/pg_ctl" ]; then
            echo "$found"
            return
        fi
    done
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package" >&2
    exit 1
}

# Run a command as the cluster's owner: ourselves, or the `postgres` user when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")  # from a folder that user may enter
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin dir port
    bin=$(bindir)
    dir=$(mktemp -d /tmp/sme-postgres.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" --pgdata "$dir/data" --username sme --auth trust --encoding UTF8 --no-instructions \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait --silent start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off" \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "export TEST_POSTGRES_DIR=$dir"
    echo "export TEST_DATABASE_URL=postgresql+asyncpg://sme@127.0.0.1:$port/postgres"
}

stop() {
    local dir=${TEST_POSTGRES_DIR:?set TEST_POSTGRES_DIR (printed by start)}
    as_owner "$(bindir)/pg_ctl" --pgdata "$dir/data" --mode fast --wait --silent stop || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
