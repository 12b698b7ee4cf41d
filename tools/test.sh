#!/usr/bin/env bash
# README command 2: build if needed, then run the whole test suite (Catch2 units, lit +
# FileCheck, end-to-end) through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/install-deps.sh --if-missing
tools/build.sh
ctest --test-dir build --output-on-failure -j "${CONVEYOR_JOBS:-$(nproc)}"
