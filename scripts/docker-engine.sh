#!/usr/bin/env bash
# Make sure a real Docker engine answers; install (apt) and start one if none does.
#
# For CI and fresh Debian/Ubuntu machines where only the `docker` client exists. It is idempotent: when
# `docker info` already answers (Docker Desktop, a system engine, an engine this script started earlier)
# it does nothing. Otherwise, as root (or with passwordless sudo), it installs Debian's `docker.io`
# if `dockerd` is missing and starts it detached:
#
#   dockerd --data-root $DOCKER_CI_DATA_ROOT --storage-driver overlay2 \
#           --iptables=false --ip6tables=false --bridge=none
#
# falling back to `--storage-driver vfs` when overlay2 cannot work on this filesystem. With
# `--bridge=none` there is no default bridge network: containers use host networking or user-defined
# networks (that is what the emulator's DockerRunner does).
#
# Not for: production hosts, rootless setups, or remote engines (a tcp:// DOCKER_HOST must already answer).
#
# Settings: DOCKER_CI_DATA_ROOT (default /var/lib/docker-ci), DOCKER_CI_LOG (default /var/log/dockerd-ci.log),
#           DOCKER_CI_WAIT_SECONDS (default 60, per storage driver tried); DOCKER_CI_PIDFILE and
#           DOCKER_CI_EXEC_ROOT only to run a second engine next to a first (with its own DOCKER_HOST socket).
set -euo pipefail

DATA_ROOT=${DOCKER_CI_DATA_ROOT:-/var/lib/docker-ci}
LOG=${DOCKER_CI_LOG:-/var/log/dockerd-ci.log}
PIDFILE=${DOCKER_CI_PIDFILE:-/var/run/docker-ci.pid}
EXEC_ROOT=${DOCKER_CI_EXEC_ROOT:-} # empty: dockerd's default (/var/run/docker)
WAIT_SECONDS=${DOCKER_CI_WAIT_SECONDS:-60}
HOST_URL=${DOCKER_HOST:-unix:///var/run/docker.sock}

say() { echo "docker-engine: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

engine_answers() { docker info >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "no Docker engine answers at $HOST_URL and starting one needs root (or passwordless sudo).
  Start Docker yourself (Docker Desktop, or 'sudo systemctl start docker'), or re-run this script as root."
  fi
}

ensure_client_and_daemon() {
  if command -v dockerd >/dev/null && command -v docker >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "dockerd is not installed and apt-get is not available to install it.
  Install a Docker engine with your system's package manager, then re-run."
  say "installing docker.io with apt-get (dockerd, containerd, runc) ..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
    die "apt-get update failed; see the output above."
  # A policy-rc.d that says "no" keeps the package from starting a second, differently configured engine
  # (bridge + iptables) through its init script; a machine's own policy-rc.d is left as it is.
  local own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=/usr/sbin/policy-rc.d
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io \
    >/dev/null || rc=$?
  [ -z "$own_policy" ] || as_root rm -f "$own_policy"
  [ $rc = 0 ] || die "apt-get install docker.io failed (exit $rc); see the output above."
  command -v dockerd >/dev/null || die "docker.io was installed but dockerd is not on PATH ($PATH)."
}

# The pid of the dockerd this script started earlier, if it is still alive.
running_pid() {
  local pid
  [ -r "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

wait_for_engine() { # $1: pid of the dockerd to watch
  local pid=$1 deadline=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    engine_answers && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

start_dockerd() { # $1: storage driver; prints the pid
  local socket=${HOST_URL#unix://}
  as_root mkdir -p "$DATA_ROOT" "$(dirname "$LOG")"
  as_root sh -c 'setsid nohup dockerd --data-root "$1" --storage-driver="$2" \
      --iptables=false --ip6tables=false --bridge=none ${6:+--exec-root "$6"} \
      -H "unix://$3" -p "$4" >>"$5" 2>&1 </dev/null & echo $!' \
    sh "$DATA_ROOT" "$1" "$socket" "$PIDFILE" "$LOG" "$EXEC_ROOT"
}

stop_dockerd() { # $1: pid
  as_root kill "$1" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.25
  done
  as_root kill -9 "$1" 2>/dev/null || true
}

main() {
  engine_answers && exit 0
  case "$HOST_URL" in
  unix://*) ;;
  *) die "DOCKER_HOST=$HOST_URL does not answer; this script only starts a local engine on a unix socket." ;;
  esac
  ensure_client_and_daemon

  # One starter at a time (parallel test workers may all find no engine); the others wait, then find it.
  if [ "$(id -u)" = 0 ] && command -v flock >/dev/null; then
    exec 9>/var/run/docker-ci.lock
    flock -w $((WAIT_SECONDS * 3)) 9 || die "another docker-engine.sh holds /var/run/docker-ci.lock for too long."
    engine_answers && exit 0
  fi

  local pid
  if pid=$(running_pid); then
    say "dockerd (pid $pid) is already starting; waiting ..."
    wait_for_engine "$pid" && exit 0
    die "dockerd (pid $pid) is running but does not answer 'docker info' after ${WAIT_SECONDS}s; see $LOG"
  fi

  for driver in overlay2 vfs; do
    say "starting dockerd (storage driver $driver, data root $DATA_ROOT, log $LOG) ..."
    pid=$(start_dockerd "$driver")
    if wait_for_engine "$pid"; then
      say "engine ready (pid $pid, storage driver $driver)"
      exit 0
    fi
    say "dockerd with $driver did not come up; last log lines:"
    tail -n 15 "$LOG" >&2 || true
    stop_dockerd "$pid"
  done
  die "could not start a Docker engine with overlay2 or vfs; see $LOG.
  Tests marked 'docker' need one: start Docker yourself and make 'docker info' work, then re-run."
}

main "$@"
