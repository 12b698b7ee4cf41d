#!/usr/bin/env bash
# Installs the Debian 12 packages Conveyor builds and tests with (as root, or via sudo).
# With --if-missing it does nothing when every package is already installed.
set -euo pipefail
packages=(
  build-essential cmake ninja-build git
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  zlib1g-dev libzstd-dev libedit-dev libxml2-dev libcurl4-openssl-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libeigen3-dev libfmt-dev libcli11-dev catch2 libbenchmark-dev libyaml-cpp-dev
  python3
  clang-19 libclang-rt-19-dev
  gnuplot-nox # plots of compare/explore reports (optional: reports skip plots without it)
)
if [ "${1:-}" = "--if-missing" ]; then
  installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c '^install ok installed$' || true)
  [ "$installed" -eq "${#packages[@]}" ] && exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: ${#packages[@]} Debian packages present"
