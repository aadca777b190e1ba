#!/usr/bin/env bash
# Build, offline, the images the compose tests (tests/compose) start the stack from; skip what is current.
#
#   local/compose-standin-base:ci   stand-in for `python:3.11-slim`: Debian bookworm (minbase) with python3
#                                   (3.11), venv, a C compiler (the emulator's image build compiles
#                                   sagemaker-training's extension) and Debian's PostgreSQL.
#   local/postgres-standin:ci       stand-in for `postgres:16`: tests/compose/images/postgres/ FROM the base
#                                   (an entrypoint honouring POSTGRES_USER/PASSWORD/DB, PGDATA, pg_isready).
#   local/sagemaker-emulator:ci     the project's Dockerfile built FROM the base (BASE_IMAGE build argument),
#                                   installing from a wheelhouse downloaded here (PIP_NO_INDEX, PIP_FIND_LINKS).
#
# tests/compose/docker-compose.ci.yml swaps exactly these names into docker-compose.yml. No registry is
# reachable on CI machines, so nothing is pulled: the base is a debootstrap rootfs imported with `docker
# import`; Python packages are downloaded on the host with pip (which reaches the package registry) for
# CPython 3.11 on x86-64 and installed offline inside the image build. Each image carries a content-hash
# label and is rebuilt only when its inputs change; the rootfs tarball and the wheelhouse are cached
# (COMPOSE_IMAGE_CACHE, default /var/cache/sagemaker-emulator/compose-images).
#
# Not for: users, who `docker compose up` with the official images (see README). Needs: Linux, root for
# the cold build (debootstrap, chroot), a Docker engine (started via docker-engine.sh).
#
# Settings: COMPOSE_IMAGE_CACHE, DEBOOTSTRAP_MIRROR (default http://deb.debian.org/debian), PYTHON (a Python
# with pip for downloading wheels; default the project's .venv, then python3), FORCE_REBUILD=1.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE_IMAGE=local/compose-standin-base:ci
POSTGRES_IMAGE=local/postgres-standin:ci
EMULATOR_IMAGE=local/sagemaker-emulator:ci
POSTGRES_DIR=tests/compose/images/postgres
HASH_LABEL=sagemaker-emulator.compose-image-hash

SUITE=bookworm
MIRROR=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
DEBIAN_PACKAGES=python3,python3-venv,python3-dev,gcc,libc6-dev,ca-certificates,postgresql,postgresql-client
TARGET_PYTHON=3.11 # bookworm's python3, and python:3.11-slim's
# Published as source only: downloaded as sdists and built inside the image (the base has gcc).
SOURCE_ONLY='^(sagemaker-training|inotify[_-]simple)\b'
ROOTFS_RECIPE_VERSION=1

if [ -w /var/cache ] || [ "$(id -u)" = 0 ]; then
  CACHE=${COMPOSE_IMAGE_CACHE:-/var/cache/sagemaker-emulator/compose-images}
else
  CACHE=${COMPOSE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sagemaker-emulator/compose-images}
fi
export DOCKER_BUILDKIT=0 # the classic builder needs no buildx plugin and works with dockerd 20.10

say() { echo "build-compose-images: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

image_hash() { docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true; }

is_current() { [ "${FORCE_REBUILD:-0}" != 1 ] && [ "$(image_hash "$1")" = "$2" ]; }

pip_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$ROOT/.venv/bin/python" python3; do
    [ -n "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1 && {
      echo "$candidate"
      return
    }
  done
  die "no Python with pip found to download the emulator's wheels (set PYTHON=/path/to/python)."
}

# -- the stand-in base (debootstrap) ------------------------------------------------------------------

rootfs_key() {
  {
    echo "$ROOTFS_RECIPE_VERSION $SUITE $DEBIAN_PACKAGES"
    declare -f make_rootfs slim_rootfs
  } | sha256sum | cut -c1-16
}

make_rootfs() { # $1: directory
  debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" "$SUITE" "$1" "$MIRROR" >"$1.debootstrap.log" 2>&1 ||
    die "debootstrap failed; last lines of $1.debootstrap.log:
$(tail -n 20 "$1.debootstrap.log")"
}

slim_rootfs() { # $1: rootfs
  # The package's own cluster (Debian's pg_createcluster layout) is not used: the entrypoint runs initdb into
  # $PGDATA as the official image does. Its binaries go on PATH as they are in the official image.
  rm -rf "$1"/var/lib/postgresql/* "$1"/etc/postgresql/*
  local bin
  bin=$(find "$1"/usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
  [ -n "$bin" ] || die "no PostgreSQL binaries in the rootfs."
  for tool in "$bin"/*; do ln -sf "${tool#"$1"}" "$1/usr/local/bin/$(basename "$tool")"; done
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* \
    "$1"/root/.cache
}

rootfs_tarball() { # $1: key; prints the tarball's path, building it when missing
  local key=$1 tarball="$CACHE/rootfs-$1.tar" work
  [ -s "$tarball" ] && {
    echo "$tarball"
    return
  }
  [ "$(id -u)" = 0 ] || die "building the stand-in rootfs needs root (debootstrap); re-run as root."
  command -v debootstrap >/dev/null || {
    say "installing debootstrap ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
      die "cannot install debootstrap with apt-get."
  }
  work=$(mktemp -d "$CACHE/rootfs-build.XXXXXX")
  trap 'rm -rf "$work" "$work.debootstrap.log"' EXIT
  say "debootstrap $SUITE into $work (a minute or two) ..."
  make_rootfs "$work" >&2
  slim_rootfs "$work" >&2
  tar -C "$work" --numeric-owner -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$key.tar" -delete
  rm -rf "$work" "$work.debootstrap.log"
  trap - EXIT
  echo "$tarball"
}

build_base() {
  local key tarball
  key=$(rootfs_key)
  if is_current "$BASE_IMAGE" "$key"; then
    say "$BASE_IMAGE is current ($key)"
    return
  fi
  tarball=$(rootfs_tarball "$key")
  say "importing $tarball as $BASE_IMAGE ..."
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL $HASH_LABEL=$key" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

# -- images FROM the base -----------------------------------------------------------------------------

build_postgres() {
  local key output
  key=$({
    docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    (cd "$POSTGRES_DIR" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-16)
  if is_current "$POSTGRES_IMAGE" "$key"; then
    say "$POSTGRES_IMAGE is current ($key)"
    return
  fi
  say "building $POSTGRES_IMAGE from $POSTGRES_DIR ..."
  output=$(docker build -q --force-rm --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$HASH_LABEL=$key" \
    -t "$POSTGRES_IMAGE" "$POSTGRES_DIR" 2>&1) || die "docker build of $POSTGRES_IMAGE failed:
$output"
}

# The emulator's requirements for the image (runtime + the docker and postgres extras + build tools), one a
# line, each prefixed `binary` or `source`; the requirements of the source-only sdists in $1 are included.
image_requirements() { # $1: directory holding the source-only sdists, $2: python
  "$2" - "$1" "$SOURCE_ONLY" <<'PY'
import re, sys, tarfile, tomllib
from pathlib import Path

sdists, source_only = Path(sys.argv[1]), re.compile(sys.argv[2], re.IGNORECASE)
project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
extras = project["optional-dependencies"]
wanted = [*project["dependencies"], *extras["docker"], *extras["postgres"], "setuptools>=68", "wheel"]
for sdist in sorted(sdists.glob("*.tar.gz")):
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(".egg-info/requires.txt"))
        text = archive.extractfile(member).read().decode()
    wanted += [line for line in text.split("\n\n")[0].splitlines() if line.strip()]
for line in wanted:
    print("source" if source_only.match(line) else "binary", line)
PY
}

# Wheels for CPython 3.11 on x86-64 Linux, whatever Python the host runs; sdists for the source-only packages.
# (Called with `||`, where set -e does not apply: every step says `|| return`.)
download_wheelhouse() { # $1: directory
  local py platforms=() m requirements binary=() source=()
  py=$(pip_python) || return
  mkdir -p "$1/sdists" || return
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$1/sdists" \
    "$(grep -Eo '"sagemaker-training[^"]*"' pyproject.toml | tr -d '"')" || return
  requirements=$(image_requirements "$1/sdists" "$py") || return
  mapfile -t binary < <(sed -n 's/^binary //p' <<<"$requirements")
  mapfile -t source < <(sed -n 's/^source //p' <<<"$requirements")
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$1" "${source[@]}" || return
  for m in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
  platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  "$py" -m pip download -q --only-binary=:all: --python-version "$TARGET_PYTHON" --implementation cp \
    "${platforms[@]}" -d "$1" "${binary[@]}" || return
  rm -rf "$1/sdists"
}

wheelhouse() { # $1: directory
  local py platforms=() m requirements
  py=$(pip_python)
  mkdir -p "$1/sdists"
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$1/sdists" \
    "$(grep -Eo '"sagemaker-training[^"]*"' pyproject.toml | tr -d '"')"
  requirements=$(image_requirements "$1/sdists" "$py")
  for m in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
  platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  mapfile -t requirements <<<"$requirements"
  "$py" -m pip download -q --only-binary=:all: --python-version "$TARGET_PYTHON" --implementation cp \
    "${platforms[@]}" -d "$1" "${requirements[@]}"
  mv "$1"/sdists/* "$1"/
  rmdir "$1/sdists"
}

wheelhouse() { # prints the cached wheelhouse for the current requirements, downloading it when missing
  local key dir
  key=$({
    grep -A40 '^dependencies' pyproject.toml
    declare -f image_requirements download_wheelhouse
    echo "$TARGET_PYTHON $SOURCE_ONLY"
  } | sha256sum | cut -c1-16)
  dir="$CACHE/wheelhouse-$key"
  if [ ! -d "$dir" ]; then
    say "downloading the emulator's wheels for CPython $TARGET_PYTHON (log: $CACHE/wheelhouse.log) ..."
    rm -rf "$dir.partial"
    download_wheelhouse "$dir.partial" >"$CACHE/wheelhouse.log" 2>&1 || die "downloading wheels failed:
$(grep -v 'is ignored' "$CACHE/wheelhouse.log" | tail -n 20)"
    mv "$dir.partial" "$dir"
    find "$CACHE" -maxdepth 1 -name 'wheelhouse-*' ! -name "wheelhouse-$key" -exec rm -rf {} +
  fi
  echo "$dir"
}

build_emulator() {
  local context wheels
  wheels=$(wheelhouse)
  context=$(mktemp -d "$CACHE/context.XXXXXX")
  build_emulator_from "$context" "$wheels" || {
    rm -rf "$context"
    return 1
  }
  rm -rf "$context"
}

build_emulator_from() { # $1: an empty build context directory, $2: the wheelhouse
  local key output context=$1 wheels=$2
  # The files .dockerignore lets into a normal build, and the wheelhouse.
  cp Dockerfile pyproject.toml README.md "$context/"
  tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' -cf - emulator | tar -C "$context" -xf -
  cp -al "$wheels" "$context/wheelhouse" 2>/dev/null || cp -a "$wheels" "$context/wheelhouse"
  key=$({
    docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    (cd "$context" && find . -type f ! -path './wheelhouse/*' | LC_ALL=C sort | xargs sha256sum)
    ls "$context/wheelhouse"
  } | sha256sum | cut -c1-16)
  if is_current "$EMULATOR_IMAGE" "$key"; then
    say "$EMULATOR_IMAGE is current ($key)"
    return
  fi
  say "building $EMULATOR_IMAGE from the Dockerfile (offline, FROM $BASE_IMAGE) ..."
  output=$(docker build -q --force-rm --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/src/wheelhouse \
    --label "$HASH_LABEL=$key" -t "$EMULATOR_IMAGE" "$context" 2>&1) || die "docker build of $EMULATOR_IMAGE failed:
$output"
}

# Debian's docker-compose 1.29 (the tests bring the stack up with it too; Compose v2 comes from the dev extras).
ensure_compose_v1() {
  [ -x /usr/bin/docker-compose ] && return
  [ "$(id -u)" = 0 ] || {
    say "Debian's docker-compose is not installed and installing it needs root; the compose tests will say so."
    return
  }
  say "installing docker-compose (1.29) with apt-get ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; } ||
    die "cannot install docker-compose with apt-get."
}

main() {
  "$ROOT/scripts/docker-engine.sh"
  ensure_compose_v1
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # one build at a time per machine
  local started=$SECONDS
  build_base
  build_postgres
  build_emulator
  docker image ls -q --filter dangling=true --filter "label=$HASH_LABEL" | xargs -r docker image rm >/dev/null 2>&1 || true
  say "images ready in $((SECONDS - started))s: $BASE_IMAGE $POSTGRES_IMAGE $EMULATOR_IMAGE"
}

main "$@"
