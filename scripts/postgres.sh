# A throwaway PostgreSQL server for the tests: source this file, and CLOUDFAUJ_TEST_POSTGRES holds the URL
# of an empty database on a server that listens on loopback only and is stopped (and its files removed)
# when the sourcing shell exits.
#   source scripts/postgres.sh        (from bash; installs an EXIT trap)
# The server runs as the `postgres` user when we are root (initdb refuses root). It trades durability for
# speed (fsync off): it holds nothing but test data.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "PostgreSQL server binaries not found in $PG_BIN; installing Debian's postgresql package..." >&2
  apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null
fi
PG_DIR=$(mktemp -d /tmp/cloudfauj-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$PG_DIR"
  _pg() { runuser -u postgres -- "$@"; }
  PG_USER=postgres
else
  _pg() { "$@"; }
  PG_USER=$(id -un)
fi
_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
  || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null \
  || { cat "$PG_DIR/server.log" >&2; exit 1; }
_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" cloudfauj_test
_cloudfauj_pg_stop() {
  _pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap _cloudfauj_pg_stop EXIT
export CLOUDFAUJ_TEST_POSTGRES="postgresql://$PG_USER@127.0.0.1:$PG_PORT/cloudfauj_test"
echo "PostgreSQL for the tests: $CLOUDFAUJ_TEST_POSTGRES" >&2
