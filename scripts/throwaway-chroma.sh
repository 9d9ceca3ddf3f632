#!/usr/bin/env bash
# A throwaway Chroma server for tests: Chroma's own `chroma run` (from the chromadb package in
# .venv), its data in a temporary folder, on 127.0.0.1 only.
#
#   scripts/throwaway-chroma.sh start   prints `export TEST_CHROMA_URL=...` and
#                                        `export TEST_CHROMA_DIR=...` for `eval`
#   scripts/throwaway-chroma.sh stop    stops the server in $TEST_CHROMA_DIR and deletes its data
#
# Tests given TEST_CHROMA_URL empty the server before each use; without it they start their own.
set -euo pipefail
cd "$(dirname "$0")/.."

start() {
    local dir port
    dir=$(mktemp -d /tmp/sme-chroma.XXXXXX)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    .venv/bin/chroma run --host 127.0.0.1 --port "$port" --path "$dir/data" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 300); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/v2/heartbeat', timeout=1)" 2>/dev/null; then
            echo "export TEST_CHROMA_DIR=$dir"
            echo "export TEST_CHROMA_URL=http://127.0.0.1:$port"
            return
        fi
        sleep 0.2
    done
    cat "$dir/server.log" >&2
    exit 1
}

stop() {
    local dir=${TEST_CHROMA_DIR:?set TEST_CHROMA_DIR (printed by start)}
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
