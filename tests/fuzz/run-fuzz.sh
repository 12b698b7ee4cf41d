#!/usr/bin/env bash
# Builds the ONNX importer fuzzer with clang-19 sanitizers and runs it (ctest: fuzz-onnx-importer).
#
# Two modes:
#  - regression (default, what ctest runs): a fixed seed, a fixed number of inputs and an empty
#    corpus, so every machine runs the same input sequence and a clean run here is a clean run
#    in CI (a slower machine stops at the time cap, after a prefix of that same sequence);
#  - exploration (CONVEYOR_FUZZ_SEED=0): a random seed, time-bounded, keeping fuzz-corpus/
#    between runs. Run it by hand to look for new crashes; add each reproducer it finds to
#    tests/lit/Frontend/Inputs/fuzz/ with a lit test, and it becomes a seed of the regression run.
#
# Environment:
#   CONVEYOR_FUZZ_SEED       libFuzzer seed (default 1; 0 = random, exploration mode)
#   CONVEYOR_FUZZ_RUNS       inputs to run in regression mode (default 60000)
#   CONVEYOR_FUZZ_SECONDS    time cap in seconds (default 300 in regression mode, 60 in exploration)
#   CONVEYOR_FUZZ_BUILD_DIR  build directory (default <repo>/build-fuzz); its fuzz-corpus/
#                            keeps what exploration runs found, fuzz-artifacts/ the reproducers
#   CONVEYOR_FUZZ_JOBS       ninja parallelism (default 2)
# With arguments, runs the fuzzer on just those (e.g. a reproducer file to replay it, or
# libFuzzer flags), without the seed corpus and time limit.
# Exit status: 0 no finding, 77 clang++-19 is not installed (ctest: skipped), else failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CONVEYOR_FUZZ_BUILD_DIR:-$repo/build-fuzz}
seed=${CONVEYOR_FUZZ_SEED:-1}
runs=${CONVEYOR_FUZZ_RUNS:-60000}
if [ "$seed" = 0 ]; then
  seconds=${CONVEYOR_FUZZ_SECONDS:-60}
else
  seconds=${CONVEYOR_FUZZ_SECONDS:-300}
fi
jobs=${CONVEYOR_FUZZ_JOBS:-2}

if ! command -v clang++-19 >/dev/null || ! command -v clang-19 >/dev/null; then
  echo "run-fuzz.sh: skipped: clang-19 is not installed (tools/install-deps.sh installs clang-19 and libclang-rt-19-dev)"
  exit 77
fi
fuzzerRuntime=$(clang++-19 -print-file-name=libclang_rt.fuzzer-x86_64.a)
if [ ! -f "$fuzzerRuntime" ] && [ ! -f "$(clang++-19 -print-runtime-dir)/libclang_rt.fuzzer.a" ]; then
  echo "run-fuzz.sh: error: clang-19 has no libFuzzer runtime; install libclang-rt-19-dev (tools/install-deps.sh)" >&2
  exit 1
fi

start=$(date +%s)
mkdir -p "$build"
cmake -G Ninja -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 -DCONVEYOR_FUZZ=ON >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; echo "run-fuzz.sh: error: configuring $build failed (log above)" >&2; exit 1; }
ninja -C "$build" -j "$jobs" onnx-import-fuzzer
echo "run-fuzz.sh: fuzzer built in $(($(date +%s) - start)) s"
if [ "$#" -gt 0 ]; then
  exec "$build/bin/onnx-import-fuzzer" "$@"
fi

# Seeds: the committed small models and past reproducers, copied fresh so an edited input
# is picked up; new inputs the fuzzer finds go to fuzz-corpus/ (the first directory), never
# into the tree.
seeds="$build/fuzz-seeds"
corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
rm -rf "$seeds"
limits=(-max_total_time="$seconds")
if [ "$seed" != 0 ]; then
  # Regression mode: start from the seeds alone, as a fresh clone does.
  corpus="$build/fuzz-corpus-regression"
  rm -rf "$corpus"
  limits+=(-seed="$seed" -runs="$runs")
fi
mkdir -p "$seeds" "$corpus" "$artifacts"
cp "$repo"/tests/lit/Frontend/Inputs/*.onnx "$repo"/tests/lit/Frontend/Inputs/fuzz/*.onnx \
  "$repo"/models/tiny/*.onnx "$seeds"/

marker="$artifacts/.run-started"
touch "$marker"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
"$build/bin/onnx-import-fuzzer" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 \
  -dict="$repo/tests/fuzz/onnx.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$corpus" "$seeds" || status=$?

if [ "$status" -ne 0 ]; then
  found=$(find "$artifacts" -type f -newer "$marker" ! -name .run-started)
  echo "run-fuzz.sh: error: the ONNX importer fuzzer failed (exit $status)" >&2
  for reproducer in $found; do
    echo "run-fuzz.sh: reproducer: $reproducer (replay: $build/bin/onnx-import-fuzzer $reproducer)" >&2
  done
  exit "$status"
fi
if [ "$seed" != 0 ]; then
  echo "run-fuzz.sh: no crash, leak or timeout (seed $seed, up to $runs inputs, cap ${seconds} s)"
else
  echo "run-fuzz.sh: no crash, leak or timeout in ${seconds} s of fuzzing"
fi
