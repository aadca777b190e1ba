#!/usr/bin/env bash
# Make sure a PostgreSQL server for the test suite answers; install (apt) and start one if none does.
# Prints its URL on stdout (the server's `postgres` database; tests create one database per emulator there):
#
#   export SAGEMAKER_EMULATOR_TEST_DATABASE_URL=$(./scripts/postgres.sh)
#
# For CI and fresh Debian/Ubuntu machines. Idempotent: a server this script started earlier is reused.
# Otherwise, as root (or with passwordless sudo), it installs Debian's `postgresql` when `initdb` is missing
# and runs its own throw-away cluster, owned by the `postgres` system user, listening on 127.0.0.1 only:
#
#   initdb --locale=C.UTF-8 --auth=trust -D $POSTGRES_TEST_DIR
#   postgres -p $POSTGRES_TEST_PORT -c fsync=off -c synchronous_commit=off -c max_connections=400 ...
#
# Durability is switched off (fsync) and any local user may connect without a password: test data only.
# Not for: production databases, or the compose setup (which runs the `db` service).
#
# Settings: POSTGRES_TEST_PORT (default 55432), POSTGRES_TEST_DIR (default /var/lib/sagemaker-emulator/
#           postgres-test), POSTGRES_TEST_LOG (default $POSTGRES_TEST_DIR.log), POSTGRES_TEST_STOP=1 stops it.
set -euo pipefail

PORT=${POSTGRES_TEST_PORT:-55432}
DATA=${POSTGRES_TEST_DIR:-/var/lib/sagemaker-emulator/postgres-test}
LOG=${POSTGRES_TEST_LOG:-$DATA.log}
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
OS_USER=postgres

say() { echo "postgres: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "starting a PostgreSQL server needs root (or passwordless sudo); re-run as root, or point
  SAGEMAKER_EMULATOR_TEST_DATABASE_URL at a PostgreSQL server you run yourself."
  fi
}

as_postgres() { as_root runuser -u "$OS_USER" -- "$@"; }

bin_dir() { # the newest installed server's binaries
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

answers() { [ -n "${BIN:-}" ] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres; }

install_server() {
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available to install it."
  say "installing postgresql with apt-get ..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed."
  # As for docker.io: a "no" policy keeps the package from creating and starting its own cluster service.
  local own_policy="" rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=/usr/sbin/policy-rc.d
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || rc=$?
  [ -z "$own_policy" ] || as_root rm -f "$own_policy"
  [ $rc = 0 ] || die "apt-get install postgresql failed (exit $rc)."
}

init_cluster() {
  as_root mkdir -p "$DATA"
  as_root chown "$OS_USER:" "$DATA"
  as_root chmod 700 "$DATA"
  say "initdb $DATA ..."
  as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null ||
    die "initdb failed."
}

start_server() {
  as_root touch "$LOG"
  as_root chown "$OS_USER:" "$LOG"
  say "starting PostgreSQL on 127.0.0.1:$PORT (data $DATA, log $LOG) ..."
  as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
-c shared_buffers=128MB" >/dev/null || die "PostgreSQL did not start; last log lines:
$(tail -n 20 "$LOG" 2>/dev/null)"
}

main() {
  BIN=$(bin_dir || true)
  if [ "${POSTGRES_TEST_STOP:-0}" = 1 ]; then
    [ -n "$BIN" ] && [ -f "$DATA/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null
    exit 0
  fi
  if answers; then
    echo "$URL"
    exit 0
  fi
  [ -n "$BIN" ] || install_server
  BIN=$(bin_dir) || die "postgresql is installed but no initdb was found under /usr/lib/postgresql."
  exec 9>/tmp/sagemaker-emulator-postgres.lock
  flock -w 120 9 || die "another scripts/postgres.sh holds the lock for too long."
  if ! answers; then
    [ -f "$DATA/PG_VERSION" ] || init_cluster
    start_server
  fi
  answers || die "PostgreSQL started but does not answer on 127.0.0.1:$PORT; see $LOG"
  echo "$URL"
}

main "$@"
