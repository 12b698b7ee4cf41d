#!/usr/bin/env bash
# ONNX -> schedule -> simulated outputs vs the PyTorch reference, through the CLI a user runs.
# usage: tiny_block.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/conveyor" compile "$src/models/tiny/tiny-block.onnx" --system "$src/systems/groq-1.yaml" \
  -o "$work/tiny-block.sched"
"$bin/conveyor" simulate "$work/tiny-block.sched" --inputs "$src/models/tiny/test_data_set_0" \
  --tolerance 1e-4 | tee "$work/report.txt"
grep -q "reference check: output" "$work/report.txt"
# The report must carry the figures a user reads: throughput, energy and SRAM.
"$bin/conveyor" simulate "$work/tiny-block.sched" --inputs "$src/models/tiny/test_data_set_0" \
  --json > "$work/report.json"
for key in tokens_per_second joules_per_token cycles sram; do
  grep -q "\"$key" "$work/report.json" || { echo "report.json lacks '$key'"; exit 1; }
done
echo "e2e-tiny-block: ok"
