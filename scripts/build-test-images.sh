#!/usr/bin/env bash
# Build, offline, the Docker images the test suite runs jobs in; skip whatever is already current.
#
#   local/sagemaker-sklearn-base:test   Debian bookworm (minbase) + python3, numpy, pandas, scikit-learn from
#                                       Debian + the `sagemaker-training` toolkit (its `train` entry point).
#   local/sagemaker-sklearn:test        tests/images/sklearn/ built FROM the base: what a framework image
#                                       offers job scripts (`python`, a usable `pip`), and a `serve` that runs
#                                       the emulator's inference server (emulator/serving/inference, copied
#                                       into the build context). Also tagged as the ECR
#                                       URI the SageMaker SDK v2 generates for SKLearn(framework_version="1.2-1")
#                                       in us-east-1, so unmodified SDK code finds it locally.
#   local/custom-train:test             tests/images/custom/ built FROM the base: a `train` command that reads
#                                       hyperparameters.json and writes /opt/ml/model/.
#
# No registry is reachable on CI machines, so nothing is pulled: the base is a debootstrap rootfs imported
# with `docker import`; Python packages are downloaded on the host with pip and installed offline inside.
# Each image carries a content hash label; it is rebuilt only when its inputs change. The rootfs tarball is
# cached (TEST_IMAGE_CACHE, default /var/cache/sagemaker-emulator/test-images) so a new engine data root
# only costs a `docker import`.
#
# Not for: real SageMaker framework images (no sagemaker_sklearn_container; `serve` is the emulator's own).
# Needs: Linux, root for the cold build (debootstrap, chroot), a Docker engine (started via docker-engine.sh).
#
# Settings: TEST_IMAGE_CACHE, DEBOOTSTRAP_MIRROR (default http://deb.debian.org/debian), PYTHON (a Python
# with pip for downloading wheels; default the project's .venv, then python3), FORCE_REBUILD=1.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE_IMAGE=local/sagemaker-sklearn-base:test
SKLEARN_IMAGE=local/sagemaker-sklearn:test
SKLEARN_DIR=tests/images/sklearn
SKLEARN_ALIASES=(683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3)
CUSTOM_IMAGE=local/custom-train:test
CUSTOM_DIR=tests/images/custom
HASH_LABEL=sagemaker-emulator.test-image-hash

SUITE=bookworm
MIRROR=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
DEBIAN_PACKAGES=python3,python3-pip,python3-dev,python3-setuptools,python3-wheel,python3-numpy,python3-pandas,python3-sklearn,ca-certificates,gcc,libc6-dev
# Provided by the Debian packages above; everything else the toolkit requires is downloaded as wheels.
DEBIAN_PROVIDED='^(numpy|scipy|pip|inotify_simple)\b'
TARGET_PYTHON=3.11 # bookworm's python3
# Bump to force a new rootfs when the recipe's effect changes in a way the text below does not show.
ROOTFS_RECIPE_VERSION=1

if [ -w /var/cache ] || [ "$(id -u)" = 0 ]; then
  CACHE=${TEST_IMAGE_CACHE:-/var/cache/sagemaker-emulator/test-images}
else
  CACHE=${TEST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sagemaker-emulator/test-images}
fi
export DOCKER_BUILDKIT=0 # the classic builder needs no buildx plugin and works with dockerd 20.10

say() { echo "build-test-images: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

image_hash() { docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true; }

is_current() { [ "${FORCE_REBUILD:-0}" != 1 ] && [ "$(image_hash "$1")" = "$2" ]; }

rootfs_key() {
  {
    echo "$ROOTFS_RECIPE_VERSION $SUITE $DEBIAN_PACKAGES $DEBIAN_PROVIDED $TARGET_PYTHON"
    declare -f make_rootfs download_wheels install_toolkit in_chroot slim_rootfs
  } | sha256sum | cut -c1-16
}

derived_key() { # $1: base image id, $2: build directory
  {
    echo "$1"
    declare -f build_derived
    (cd "$2" && find . -type f | LC_ALL=C sort | xargs sha256sum && find . -type f -perm -u+x | LC_ALL=C sort)
  } | sha256sum | cut -c1-16
}

pip_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$ROOT/.venv/bin/python" python3; do
    [ -n "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1 && {
      echo "$candidate"
      return
    }
  done
  die "no Python with pip found to download the sagemaker-training wheels (set PYTHON=/path/to/python)."
}

# Wheels for bookworm's CPython 3.11 on x86-64, whatever Python the host runs.
download_wheels() { # $1: directory
  local py platforms=() m requirements
  py=$(pip_python)
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$1" sagemaker-training inotify_simple==1.2.1
  requirements=$(tar -xzf "$1"/sagemaker_training-*.tar.gz --wildcards -O '*/sagemaker_training.egg-info/requires.txt' |
    sed '/^$/q' | grep -Ev "$DEBIAN_PROVIDED" | grep .)
  for m in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
  platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  # shellcheck disable=SC2086 # one requirement per word
  "$py" -m pip download -q --only-binary=:all: --python-version "$TARGET_PYTHON" --implementation cp \
    "${platforms[@]}" -d "$1" $requirements
}

make_rootfs() { # $1: directory
  debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" "$SUITE" "$1" "$MIRROR" >"$1.debootstrap.log" 2>&1 ||
    die "debootstrap failed; last lines of $1.debootstrap.log:
$(tail -n 20 "$1.debootstrap.log")"
}

in_chroot() { # $1: rootfs, then the command
  local rootfs=$1
  shift
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$(command -v chroot)" "$rootfs" "$@"
}

install_toolkit() { # $1: rootfs
  mkdir -p "$1/tmp/whl"
  download_wheels "$1/tmp/whl"
  # A clean environment: the host's PIP_* settings (indexes, certificates) mean nothing inside.
  in_chroot "$1" python3 -m pip install -q --break-system-packages --no-index --no-build-isolation \
    --find-links /tmp/whl sagemaker-training
  in_chroot "$1" python3 -c 'import sagemaker_training, gethostname, sklearn'
  rm -rf "$1/tmp/whl"
}

slim_rootfs() { # $1: rootfs
  # Boost headers come with scipy's pythran dependency and are only needed to compile pythran code.
  in_chroot "$1" dpkg --purge --force-depends libboost1.74-dev >/dev/null 2>&1 || true
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* \
    "$1"/root/.cache
}

# The rootfs tarball for the current recipe, built when missing; prints its path.
rootfs_tarball() {
  local key=$1 tarball="$CACHE/rootfs-$1.tar" work
  [ -s "$tarball" ] && {
    echo "$tarball"
    return
  }
  [ "$(id -u)" = 0 ] || die "building the base rootfs needs root (debootstrap, chroot); re-run as root."
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
  say "installing sagemaker-training offline (log: $CACHE/toolkit.log) ..."
  install_toolkit "$work" >"$CACHE/toolkit.log" 2>&1 ||
    die "installing sagemaker-training failed; last lines of $CACHE/toolkit.log:
$(grep -v 'is ignored' "$CACHE/toolkit.log" | tail -n 20)"
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
  else
    tarball=$(rootfs_tarball "$key")
    say "importing $tarball as $BASE_IMAGE ..."
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1' \
      --change "LABEL $HASH_LABEL=$key" \
      "$tarball" "$BASE_IMAGE" >/dev/null
  fi
}

build_derived() { # $1: image, $2: build directory (its Dockerfile takes the base as BASE_IMAGE)
  local key output
  key=$(derived_key "$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE")" "$2")
  if is_current "$1" "$key"; then
    say "$1 is current ($key)"
    return
  fi
  say "building $1 from $2 ..."
  # --network host: RUN steps work on an engine without a bridge network (the CI engine).
  output=$(docker build -q --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$HASH_LABEL=$key" \
    -t "$1" "$2" 2>&1) || die "docker build of $1 failed:
$output"
}

sklearn_context() { # the build context: tests/images/sklearn plus the inference server; prints its path
  local context="$CACHE/sklearn-context"
  rm -rf "$context"
  mkdir -p "$context/serving/emulator/serving"
  cp -a "$ROOT/$SKLEARN_DIR/." "$context/"
  cp -a "$ROOT/emulator/serving/inference" "$context/serving/emulator/serving/"
  find "$context" -name __pycache__ -prune -exec rm -rf {} +
  echo "$context"
}

main() {
  "$ROOT/scripts/docker-engine.sh"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # one build at a time per machine
  local started=$SECONDS
  build_base
  build_derived "$SKLEARN_IMAGE" "$(sklearn_context)"
  for alias in "${SKLEARN_ALIASES[@]}"; do docker tag "$SKLEARN_IMAGE" "$alias"; done
  build_derived "$CUSTOM_IMAGE" "$CUSTOM_DIR"
  # Earlier builds these replaced (untagged now); only images built here carry the label.
  docker image ls -q --filter dangling=true --filter "label=$HASH_LABEL" | xargs -r docker image rm >/dev/null 2>&1 || true
  say "images ready in $((SECONDS - started))s: $BASE_IMAGE $SKLEARN_IMAGE ${SKLEARN_ALIASES[*]} $CUSTOM_IMAGE"
}

main "$@"
