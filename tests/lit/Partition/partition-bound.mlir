// conveyor-partition-bound on the toy decoder of partition-toy.mlir (tp=2, 2 stages, groq-8:
// 10,240 B/cycle weight install, 409,600 int8 MACs/cycle, 4 x 30 Gb/s links at 900 MHz =
// 16.67 B/cycle, 216-cycle hop). Per chip and layer: weights 336 B (int8) + K/V 2 x 16 fp16
// = 400 B; MACs q/k/v 3 x 32 + scores 16 + context 16 + o 32 + MLP 192 = 352; two
// all-reduces of 8 fp16 = 16 B: 2 x (1 + 216) = 434 cycles. Stage 0 adds the embedding's
// all-reduce and the send (217 each), stage 1 the logits' all-gather (217).
// RUN: conveyor-opt %S/partition-toy.mlir --conveyor-partition="tp=2 stages=2" \
// RUN:   --conveyor-partition-bound="system=%models/../systems/groq-8.yaml" | FileCheck %s
// RUN: not conveyor-opt %S/partition-toy.mlir --conveyor-partition-bound 2>&1 | FileCheck %s --check-prefix=NOSYS
// RUN: not conveyor-opt %S/partition-toy.mlir --conveyor-partition-bound="system=%models/../systems/groq-8.yaml" 2>&1 | FileCheck %s --check-prefix=UNPARTITIONED

// CHECK: module attributes {{{.*}}cv.partition.decode_bound_cycles = 1520 : i64, cv.partition.decode_bound_tokens_per_s = 5.921050e+05 : f64
// CHECK: func.func @stage0(
// CHECK-SAME: cv.partition.bound = {layer_c2c_cycles = 434 : i64, layer_cycles = 435 : i64, layer_macs = 352 : i64, layer_weight_bytes = 400 : i64, stage_cycles = 869 : i64}
// CHECK: func.func @stage1(
// CHECK-SAME: cv.partition.bound = {layer_c2c_cycles = 434 : i64, layer_cycles = 435 : i64, layer_macs = 352 : i64, layer_weight_bytes = 400 : i64, stage_cycles = 652 : i64}

// NOSYS: error: conveyor-partition-bound needs the system description
// UNPARTITIONED: error: has no cv.partition.stages; run conveyor-partition first
