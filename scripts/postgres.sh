#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the real-scheduler test (tests/test_scheduler.py).
#
#   scripts/postgres.sh install              Debian's postgresql, only when missing (non-interactive)
#   scripts/postgres.sh start DIR PORT       initdb DIR (trust auth, user airflow), start on 127.0.0.1:PORT,
#                                            create database airflow; waits until it accepts connections
#   scripts/postgres.sh stop DIR             fast shutdown
#
# initdb refuses to run as root, so the server runs as the `postgres` system user that
# Debian's package creates. Nothing outside DIR is touched.
set -euo pipefail

bin_dir() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$initdb" ] && dirname "$initdb"
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
install)
    if [ -n "$(bin_dir)" ]; then
        echo "postgresql already installed: $("$(bin_dir)/postgres" --version)"
        exit 0
    fi
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    echo "installed: $("$(bin_dir)/postgres" --version)"
    ;;
start)
    dir=${2:?usage: postgres.sh start DIR PORT}; port=${3:?usage: postgres.sh start DIR PORT}
    bin=$(bin_dir) || { echo "postgresql is not installed: run scripts/postgres.sh install" >&2; exit 2; }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir" && chmod 700 "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U airflow --auth=trust -E UTF8 >"$dir/initdb.log"
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    "$bin/psql" -h 127.0.0.1 -p "$port" -U airflow -d postgres -q -c "CREATE DATABASE airflow;"
    echo "postgresql on 127.0.0.1:$port (data $dir/data)"
    ;;
stop)
    dir=${2:?usage: postgres.sh stop DIR}
    bin=$(bin_dir)
    [ -f "$dir/data/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    echo "postgresql in $dir stopped"
    ;;
*)
    echo "usage: $0 install | start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
