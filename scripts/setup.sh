#!/usr/bin/env bash
# Installs what the build and the tests need (Debian 12, as root), then
# configures and builds into build/. Idempotent: installs only what is
# missing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  g++ meson ninja-build pkg-config
  libseccomp-dev libboost-context-dev libfmt-dev libabsl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libcap-dev
  # tests and benchmarks
  busybox-static python3 runsc make
  sqlite3  # tests/e2e: sqlite's fcntl locks (#4)
  # OCI clients driven by tests/oci (podman, ctr with the runc v2 shim)
  podman containerd
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "setup: run as root to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD=${BUILD_DIR:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" --buildtype=debugoptimized "$@" >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "setup: built $BUILD/runsc/runsc" >&2
