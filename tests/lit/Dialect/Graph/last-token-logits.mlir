// conveyor-graph-last-token-logits: a prompt's LM head reads its last position only (the
// logits serving needs), and the function returns [batch, 1, vocab]; a single-position
// (decode) head is left alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-last-token-logits | FileCheck %s

// CHECK-LABEL: func.func @prompt
// CHECK-SAME: -> tensor<1x1x40xf32>
// CHECK: %[[LAST:.*]] = cv.graph.slice %arg0 {axes = array<i64: 1>, sizes = array<i64: 1>, starts = array<i64: 7>, steps = array<i64: 1>} : tensor<1x8x16xf32> -> tensor<1x1x16xf32>
// CHECK-NEXT: %[[HEAD:.*]] = cv.graph.lm_head %[[LAST]], %{{.*}} : (tensor<1x1x16xf32>, tensor<16x40xf32>) -> tensor<1x1x40xf32>
// CHECK-NEXT: return %[[HEAD]] : tensor<1x1x40xf32>
func.func @prompt(%x: tensor<1x8x16xf32>) -> tensor<1x8x40xf32> {
  %w = cv.graph.weight {name = "head"} : tensor<16x40xf32>
  %y = cv.graph.lm_head %x, %w : (tensor<1x8x16xf32>, tensor<16x40xf32>) -> tensor<1x8x40xf32>
  return %y : tensor<1x8x40xf32>
}

// -----

// CHECK-LABEL: func.func @step
// CHECK-NOT: cv.graph.slice
// CHECK: cv.graph.lm_head %arg0, %{{.*}} : (tensor<1x1x16xf32>, tensor<16x40xf32>) -> tensor<1x1x40xf32>
func.func @step(%x: tensor<1x1x16xf32>) -> tensor<1x1x40xf32> {
  %w = cv.graph.weight {name = "head"} : tensor<16x40xf32>
  %y = cv.graph.lm_head %x, %w : (tensor<1x1x16xf32>, tensor<16x40xf32>) -> tensor<1x1x40xf32>
  return %y : tensor<1x1x40xf32>
}
