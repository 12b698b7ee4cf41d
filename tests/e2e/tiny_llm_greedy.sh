#!/usr/bin/env bash
# Tiny real LLMs end to end: compile the prefill export and one decode schedule per cache length
# (past = 8 .. 14) of the KV export, simulate them, and require the simulated greedy tokens to
# equal the PyTorch reference tokens (models/tiny_llm/<model>-*/greedy.json). The prefill
# schedule must also reproduce the reference logits within a tolerance.
# With WEIGHTS ACTIVATIONS KV (e.g. int8 fp32 fp32) the schedules are compiled at those
# precisions (by precision-compile, the compiler library) and the agreement must be at least
# MIN_AGREEMENT (a fraction); without them `conveyor compile` builds f32 schedules.
# usage: tiny_llm_greedy.sh BIN_DIR SOURCE_DIR WORK_DIR MODEL [MIN_AGREEMENT [W A KV]]
set -euo pipefail
bin=$1 src=$2 work=$3 model=$4 agreement=${5:-1} weights=${6:-} activations=${7:-} kv=${8:-}
rm -rf "$work" && mkdir -p "$work"
dir="$src/models/tiny_llm"
system="$src/systems/groq-1.yaml"
compile() { # ONNX OUT DIMS
  if [ -z "$weights" ]; then
    "$bin/conveyor" compile "$1" --system "$system" ${3:+--dims "$3"} -o "$2" >> "$work/compile.txt"
  else
    "$bin/precision-compile" "$1" "$system" "$2" "${3:--}" "$weights" "$activations" "$kv" \
      >> "$work/compile.txt"
  fi
}
compile "$dir/$model-prefill/$model-prefill.onnx" "$work/prefill.sched" ""
if [ -z "$weights" ]; then
  "$bin/conveyor" simulate "$work/prefill.sched" --inputs "$dir/$model-prefill/test_data_set_0" \
    --tolerance 1e-3 > "$work/prefill-report.txt"
  grep -q "reference check: output" "$work/prefill-report.txt"
fi
decode=()
for past in 8 9 10 11 12 13 14; do
  compile "$dir/$model-kv/$model-kv.onnx" "$work/decode-$past.sched" "batch=1,seq=1,past=$past"
  decode+=("$work/decode-$past.sched")
done
"$bin/greedy-tokens" --greedy "$dir/$model-kv/greedy.json" --prefill "$work/prefill.sched" \
  --kv-inputs "$dir/$model-kv/test_data_set_0" --decode "${decode[@]}" --min-agreement "$agreement"
