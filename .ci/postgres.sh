#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian's package) on loopback for the SQL engine's tests and
# print the export line for its URL: eval "$(bash .ci/postgres.sh start)"; `stop` stops it.
# Trust authentication, port 54329, data under $PGDATA_DIR (default /tmp/criteria-pg).
set -euo pipefail
DIR=${PGDATA_DIR:-/tmp/criteria-pg}
PORT=${PGPORT_CRITERIA:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
  start)
    if ! as_postgres "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      rm -rf "$DIR" && mkdir -p "$DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$DIR"
      as_postgres "$BIN/initdb" -D "$DIR" -A trust -U postgres >/dev/null
      as_postgres "$BIN/pg_ctl" -D "$DIR" -w -l "$DIR/server.log" \
        -o "-k /tmp -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    fi
    echo "export CRITERIA_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop) as_postgres "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null ;;
esac
