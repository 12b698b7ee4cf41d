#!/usr/bin/env bash
# Configures (CMake + Ninja, Release) and builds Conveyor into build/ (or $CONVEYOR_BUILD_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CONVEYOR_BUILD_DIR:-$root/build}
jobs=${CONVEYOR_JOBS:-$(nproc)}
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$root/.cmake-configure.log" 2>&1 \
    || { cat "$root/.cmake-configure.log"; exit 1; }
fi
ninja -C "$build" -j "$jobs"
