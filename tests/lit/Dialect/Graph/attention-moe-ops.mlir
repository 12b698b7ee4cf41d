// cv.graph.attention and cv.graph.moe with every optional operand print, parse and
// round-trip through the generic form.
// RUN: conveyor-opt %s --mlir-print-op-generic | conveyor-opt | FileCheck %s
// CHECK: cv.graph.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) sinks(%{{.*}}) {causal = true, scale = 1.250000e-01 : f64, sliding_window = 128 : i64} : (tensor<1x8x3x64xf32>, tensor<1x2x7x64xf32>, tensor<1x2x7x64xf32>, tensor<3x7xf32>, tensor<8xf32>) -> tensor<1x8x3x64xf32>
// CHECK: cv.graph.moe %{{.*}} router(%{{.*}}) gate(%{{.*}}) up(%{{.*}}) down(%{{.*}}) {activation = "silu", normalize_weights = true, top_k = 2 : i64}
// CHECK: cv.graph.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f64} : (tensor<1x8x3x64xf32>, tensor<1x2x7x64xf32>, tensor<1x2x7x64xf32>) -> tensor<1x8x3x64xf32>
// CHECK: cv.graph.moe %{{.*}} router(%{{.*}}) gate(%{{.*}}) down(%{{.*}}) {activation = "gelu_tanh", softmax_after_topk = true, top_k = 1 : i64}

func.func @valid(%q: tensor<1x8x3x64xf32>, %k: tensor<1x2x7x64xf32>, %v: tensor<1x2x7x64xf32>, %m: tensor<3x7xf32>, %sinks: tensor<8xf32>, %x: tensor<2x3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<4x16x32xf32>, %wd: tensor<4x32x16xf32>) -> (tensor<1x8x3x64xf32>, tensor<2x3x16xf32>) {
  %a = cv.graph.attention %q, %k, %v mask(%m) sinks(%sinks) {scale = 0.125 : f64, causal = true, sliding_window = 128 : i64} : (tensor<1x8x3x64xf32>, tensor<1x2x7x64xf32>, tensor<1x2x7x64xf32>, tensor<3x7xf32>, tensor<8xf32>) -> tensor<1x8x3x64xf32>
  %y = cv.graph.moe %x router(%wr) gate(%wg) up(%wg) down(%wd) {top_k = 2 : i64, activation = "silu", normalize_weights = true} : (tensor<2x3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<2x3x16xf32>
  %a2 = cv.graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x8x3x64xf32>, tensor<1x2x7x64xf32>, tensor<1x2x7x64xf32>) -> tensor<1x8x3x64xf32>
  %y2 = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 1 : i64, activation = "gelu_tanh", softmax_after_topk = true} : (tensor<2x3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<2x3x16xf32>
  return %a, %y : tensor<1x8x3x64xf32>, tensor<2x3x16xf32>
}
