#!/usr/bin/env bash
# README command 1: install dependencies, build, then compile the shipped default model for the
# shipped default system, simulate it (numerics checked against the PyTorch reference) and
# print the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/install-deps.sh
tools/build.sh
mkdir -p out
./build/bin/conveyor compile models/tiny/tiny-block.onnx --system systems/groq-1.yaml -o out/tiny-block.sched
./build/bin/conveyor simulate out/tiny-block.sched --inputs models/tiny/test_data_set_0 --tolerance 1e-4 \
  --json-out out/tiny-block.report.json
