#!/bin/sh
# Entrypoint of the CI stand-in for `postgres:16`: on first start, initdb into $PGDATA with POSTGRES_USER /
# POSTGRES_PASSWORD and create POSTGRES_DB; then run `postgres` (listening on every address) as the
# postgres user. Other commands run as given.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
SOCKETS=/var/run/postgresql
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" "$SOCKETS"
  chown -R postgres:postgres "$PGDATA" "$SOCKETS"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (as for the official image)}"
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  # shellcheck disable=SC2086 # extra initdb arguments, one per word
  initdb -D "$PGDATA" --username="$user" --pwfile="$password_file" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  database=${POSTGRES_DB:-$user}
  if [ "$database" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k $SOCKETS" -w start >/dev/null
    psql -h "$SOCKETS" -U "$user" -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$database\"" >/dev/null
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "docker-entrypoint.sh: initialized $PGDATA (user $user, database $database)"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" -c listen_addresses='*' -k "$SOCKETS" "$@"
fi
exec "$@"
