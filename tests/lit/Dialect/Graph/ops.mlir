// Round trip of every cv.graph op (printed form re-parsed), including the dotted
// dialect name, broadcasting, batch matmul, gemm with and without C.
// RUN: conveyor-opt %s | conveyor-opt | FileCheck %s
// RUN: conveyor-opt %s --mlir-print-op-generic | conveyor-opt | FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK-SAME: {cv.name = "x"}
// CHECK-SAME: -> (tensor<2x8x4xf32> {cv.name = "y"})
func.func @main(%x: tensor<2x8x16xf32> {cv.name = "x"}) -> (tensor<2x8x4xf32> {cv.name = "y"}) {
  // CHECK: %[[W:.*]] = cv.graph.constant {name = "w"} dense<5.000000e-01> : tensor<16x4xf32> : tensor<16x4xf32>
  %w = cv.graph.constant {name = "w"} dense<0.5> : tensor<16x4xf32> : tensor<16x4xf32>
  // CHECK: cv.graph.matmul %{{.*}}, %[[W]] : (tensor<2x8x16xf32>, tensor<16x4xf32>) -> tensor<2x8x4xf32>
  %y = cv.graph.matmul %x, %w : (tensor<2x8x16xf32>, tensor<16x4xf32>) -> tensor<2x8x4xf32>
  return %y : tensor<2x8x4xf32>
}

// CHECK-LABEL: func.func @batched_matmul_broadcast
func.func @batched_matmul_broadcast(%a: tensor<3x1x4x5xf32>, %b: tensor<2x5x6xf32>) -> tensor<3x2x4x6xf32> {
  // CHECK: cv.graph.matmul %{{.*}}, %{{.*}} : (tensor<3x1x4x5xf32>, tensor<2x5x6xf32>) -> tensor<3x2x4x6xf32>
  %0 = cv.graph.matmul %a, %b : (tensor<3x1x4x5xf32>, tensor<2x5x6xf32>) -> tensor<3x2x4x6xf32>
  return %0 : tensor<3x2x4x6xf32>
}

// CHECK-LABEL: func.func @gemm
func.func @gemm(%a: tensor<8x4xf32>, %b: tensor<16x8xf32>, %c: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<8x8xf32>) {
  // CHECK: cv.graph.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, beta = 2.000000e+00 : f32, transA = true, transB = true} : (tensor<8x4xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %0 = cv.graph.gemm %a, %b, %c {alpha = 0.5 : f32, beta = 2.0 : f32, transA = true, transB = true} : (tensor<8x4xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  // CHECK: cv.graph.gemm %{{.*}}, %{{.*}} : (tensor<8x4xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  %at = cv.graph.transpose %a, [1, 0] : tensor<8x4xf32> -> tensor<4x8xf32>
  %1 = cv.graph.gemm %a, %at : (tensor<8x4xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<8x8xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<2x3x4xf32>, %b: tensor<3x1xf32>, %s: tensor<f32>) -> tensor<2x3x4xf32> {
  // CHECK: cv.graph.add %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %0 = cv.graph.add %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  // CHECK: cv.graph.sub %{{.*}}, %{{.*}} : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %1 = cv.graph.sub %b, %0 : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  // CHECK: cv.graph.mul %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %2 = cv.graph.mul %1, %s : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  // CHECK: cv.graph.div %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %3 = cv.graph.div %2, %0 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  // CHECK: cv.graph.relu %{{.*}} : tensor<2x3x4xf32>
  %4 = cv.graph.relu %3 : tensor<2x3x4xf32>
  // CHECK: cv.graph.gelu %{{.*}} : tensor<2x3x4xf32>
  %5 = cv.graph.gelu %4 : tensor<2x3x4xf32>
  // CHECK: cv.graph.gelu %{{.*}} {approximate = "tanh"} : tensor<2x3x4xf32>
  %6 = cv.graph.gelu %5 {approximate = "tanh"} : tensor<2x3x4xf32>
  // CHECK: cv.graph.softmax %{{.*}} : tensor<2x3x4xf32>
  %7 = cv.graph.softmax %6 : tensor<2x3x4xf32>
  // CHECK: cv.graph.softmax %{{.*}} {axis = -3 : i64} : tensor<2x3x4xf32>
  %8 = cv.graph.softmax %7 {axis = -3 : i64} : tensor<2x3x4xf32>
  return %8 : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @layout
func.func @layout(%x: tensor<1x8x64xf32>) -> tensor<8x64xf32> {
  // CHECK: cv.graph.reshape %{{.*}} : tensor<1x8x64xf32> -> tensor<1x8x4x16xf32>
  %0 = cv.graph.reshape %x : tensor<1x8x64xf32> -> tensor<1x8x4x16xf32>
  // CHECK: cv.graph.transpose %{{.*}}, [0, 2, 1, 3] : tensor<1x8x4x16xf32> -> tensor<1x4x8x16xf32>
  %1 = cv.graph.transpose %0, [0, 2, 1, 3] : tensor<1x8x4x16xf32> -> tensor<1x4x8x16xf32>
  // CHECK: cv.graph.reshape %{{.*}} : tensor<1x4x8x16xf32> -> tensor<8x64xf32>
  %2 = cv.graph.reshape %1 : tensor<1x4x8x16xf32> -> tensor<8x64xf32>
  return %2 : tensor<8x64xf32>
}

// Dynamic dimensions are legal in cv.graph (only the lowering needs static shapes).
// CHECK-LABEL: func.func @dynamic
func.func @dynamic(%a: tensor<?x16xf32>, %w: tensor<16x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // CHECK: cv.graph.matmul %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %0 = cv.graph.matmul %a, %w : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  // CHECK: cv.graph.add %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %1 = cv.graph.add %0, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// Shape-only parameters: a name and a type, no values.
// CHECK-LABEL: func.func @weights
func.func @weights(%x: tensor<2x64xf16>) -> tensor<2x128xf16> {
  // CHECK: %[[W:.*]] = cv.graph.weight {name = "layers.0.w"} : tensor<64x128xf16>
  %w = cv.graph.weight {name = "layers.0.w"} : tensor<64x128xf16>
  // CHECK: cv.graph.matmul %{{.*}}, %[[W]]
  %y = cv.graph.matmul %x, %w : (tensor<2x64xf16>, tensor<64x128xf16>) -> tensor<2x128xf16>
  return %y : tensor<2x128xf16>
}

// CHECK-LABEL: func.func @float_unary
func.func @float_unary(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // CHECK: cv.graph.exp %{{.*}} : tensor<2x4xf32>
  // CHECK: cv.graph.log
  // CHECK: cv.graph.erf
  // CHECK: cv.graph.tanh
  // CHECK: cv.graph.sigmoid
  // CHECK: cv.graph.sqrt
  // CHECK: cv.graph.reciprocal
  // CHECK: cv.graph.cos
  // CHECK: cv.graph.sin
  // CHECK: cv.graph.neg
  // CHECK: cv.graph.abs %{{.*}} : tensor<2x4xf32>
  %0 = cv.graph.exp %x : tensor<2x4xf32>
  %1 = cv.graph.log %0 : tensor<2x4xf32>
  %2 = cv.graph.erf %1 : tensor<2x4xf32>
  %3 = cv.graph.tanh %2 : tensor<2x4xf32>
  %4 = cv.graph.sigmoid %3 : tensor<2x4xf32>
  %5 = cv.graph.sqrt %4 : tensor<2x4xf32>
  %6 = cv.graph.reciprocal %5 : tensor<2x4xf32>
  %7 = cv.graph.cos %6 : tensor<2x4xf32>
  %8 = cv.graph.sin %7 : tensor<2x4xf32>
  %9 = cv.graph.neg %8 : tensor<2x4xf32>
  %10 = cv.graph.abs %9 : tensor<2x4xf32>
  return %10 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @integer_unary
func.func @integer_unary(%x: tensor<3xi64>, %b: tensor<3xi1>) -> (tensor<3xi64>, tensor<3xi1>) {
  // CHECK: cv.graph.neg %{{.*}} : tensor<3xi64>
  %0 = cv.graph.neg %x : tensor<3xi64>
  // CHECK: cv.graph.not %{{.*}} : tensor<3xi1>
  %1 = cv.graph.not %b : tensor<3xi1>
  return %0, %1 : tensor<3xi64>, tensor<3xi1>
}

// CHECK-LABEL: func.func @more_binary
func.func @more_binary(%a: tensor<2x3xf32>, %s: tensor<f32>, %p: tensor<3xi1>, %q: tensor<2x1xi1>) -> (tensor<2x3xf32>, tensor<2x3xi1>) {
  // CHECK: cv.graph.pow %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %0 = cv.graph.pow %a, %s : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  // CHECK: cv.graph.max %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = cv.graph.max %0, %s : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  // CHECK: cv.graph.min
  %2 = cv.graph.min %1, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: cv.graph.and %{{.*}}, %{{.*}} : (tensor<3xi1>, tensor<2x1xi1>) -> tensor<2x3xi1>
  %3 = cv.graph.and %p, %q : (tensor<3xi1>, tensor<2x1xi1>) -> tensor<2x3xi1>
  // CHECK: cv.graph.or
  %4 = cv.graph.or %3, %p : (tensor<2x3xi1>, tensor<3xi1>) -> tensor<2x3xi1>
  return %2, %4 : tensor<2x3xf32>, tensor<2x3xi1>
}

// CHECK-LABEL: func.func @compare_where_cast
func.func @compare_where_cast(%a: tensor<4x1xi64>, %b: tensor<5xi64>, %x: tensor<4x5xf32>, %m: tensor<f32>) -> (tensor<4x5xf32>, tensor<4x5xf16>) {
  // CHECK: cv.graph.equal %{{.*}}, %{{.*}} : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  %0 = cv.graph.equal %a, %b : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  // CHECK: cv.graph.less
  %1 = cv.graph.less %a, %b : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  // CHECK: cv.graph.less_equal
  %2 = cv.graph.less_equal %a, %b : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  // CHECK: cv.graph.greater
  %3 = cv.graph.greater %a, %b : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  // CHECK: cv.graph.greater_equal
  %4 = cv.graph.greater_equal %a, %b : (tensor<4x1xi64>, tensor<5xi64>) -> tensor<4x5xi1>
  // CHECK: cv.graph.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x5xi1>, tensor<4x5xf32>, tensor<f32>) -> tensor<4x5xf32>
  %5 = cv.graph.where %1, %x, %m : (tensor<4x5xi1>, tensor<4x5xf32>, tensor<f32>) -> tensor<4x5xf32>
  // CHECK: cv.graph.cast %{{.*}} : tensor<4x5xf32> -> tensor<4x5xf16>
  %6 = cv.graph.cast %5 : tensor<4x5xf32> -> tensor<4x5xf16>
  return %5, %6 : tensor<4x5xf32>, tensor<4x5xf16>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x3x4xf32>) -> (tensor<2x3x1xf32>, tensor<3xf32>, tensor<2x1x4xf32>, tensor<2x3xf32>, tensor<2x3xi64>) {
  // CHECK: cv.graph.reduce_mean %{{.*}}, [2] : tensor<2x3x4xf32> -> tensor<2x3x1xf32>
  %0 = cv.graph.reduce_mean %x, [2] : tensor<2x3x4xf32> -> tensor<2x3x1xf32>
  // CHECK: cv.graph.reduce_sum %{{.*}}, [0, 2] {keepdims = false} : tensor<2x3x4xf32> -> tensor<3xf32>
  %1 = cv.graph.reduce_sum %x, [0, 2] {keepdims = false} : tensor<2x3x4xf32> -> tensor<3xf32>
  // CHECK: cv.graph.reduce_max %{{.*}}, [1]
  %2 = cv.graph.reduce_max %x, [1] : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  // CHECK: cv.graph.reduce_min %{{.*}}, [2] {keepdims = false}
  %3 = cv.graph.reduce_min %x, [2] {keepdims = false} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  // CHECK: cv.graph.argmax %{{.*}} {axis = 2 : i64, keepdims = false} : tensor<2x3x4xf32> -> tensor<2x3xi64>
  %4 = cv.graph.argmax %x {axis = 2 : i64, keepdims = false} : tensor<2x3x4xf32> -> tensor<2x3xi64>
  return %0, %1, %2, %3, %4 : tensor<2x3x1xf32>, tensor<3xf32>, tensor<2x1x4xf32>, tensor<2x3xf32>, tensor<2x3xi64>
}

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>) {
  // Default attributes (axis -1, epsilon 1e-5) are not printed.
  // CHECK: cv.graph.layer_norm %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %0 = cv.graph.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f32} : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  // CHECK: cv.graph.rms_norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999997E-7 : f32} : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %1 = cv.graph.rms_norm %0, %g {axis = 2 : i64, epsilon = 1.0e-6 : f32} : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  return %0, %1 : tensor<2x8x64xf32>, tensor<2x8x64xf32>
}

// CHECK-LABEL: func.func @indexing
func.func @indexing(%table: tensor<50x32xf32>, %ids: tensor<1x5xi64>, %d: tensor<4x8xf32>, %i: tensor<4x2xi64>, %u: tensor<4x2xf32>) -> (tensor<1x5x32xf32>, tensor<4x2xf32>, tensor<4x8xf32>) {
  // CHECK: cv.graph.gather %{{.*}}, %{{.*}} : (tensor<50x32xf32>, tensor<1x5xi64>) -> tensor<1x5x32xf32>
  %0 = cv.graph.gather %table, %ids : (tensor<50x32xf32>, tensor<1x5xi64>) -> tensor<1x5x32xf32>
  // CHECK: cv.graph.gather_elements %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<4x8xf32>, tensor<4x2xi64>) -> tensor<4x2xf32>
  %1 = cv.graph.gather_elements %d, %i {axis = 1 : i64} : (tensor<4x8xf32>, tensor<4x2xi64>) -> tensor<4x2xf32>
  // CHECK: cv.graph.scatter_elements %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, reduction = "add"} : (tensor<4x8xf32>, tensor<4x2xi64>, tensor<4x2xf32>) -> tensor<4x8xf32>
  %2 = cv.graph.scatter_elements %d, %i, %u {axis = 1 : i64, reduction = "add"} : (tensor<4x8xf32>, tensor<4x2xi64>, tensor<4x2xf32>) -> tensor<4x8xf32>
  return %0, %1, %2 : tensor<1x5x32xf32>, tensor<4x2xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @join_split_slice
func.func @join_split_slice(%a: tensor<1x2x3x8xf32>, %b: tensor<1x2x5x8xf32>) -> (tensor<1x2x8x8xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x2xf32>, tensor<1x2x1x4xf32>) {
  // CHECK: cv.graph.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x8x8xf32>
  %0 = cv.graph.concat %a, %b {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x8x8xf32>
  // CHECK: cv.graph.split %{{.*}} {axis = 3 : i64, sizes = array<i64: 4, 2, 2>} : tensor<1x2x8x8xf32> -> tensor<1x2x8x4xf32>, tensor<1x2x8x2xf32>, tensor<1x2x8x2xf32>
  %1:3 = cv.graph.split %0 {axis = 3 : i64, sizes = array<i64: 4, 2, 2>} : tensor<1x2x8x8xf32> -> tensor<1x2x8x4xf32>, tensor<1x2x8x2xf32>, tensor<1x2x8x2xf32>
  // Last position, every other feature, walking backwards.
  // CHECK: cv.graph.slice %{{.*}} {axes = array<i64: 2, 3>, sizes = array<i64: 1, 4>, starts = array<i64: 7, 7>, steps = array<i64: 1, -2>} : tensor<1x2x8x8xf32> -> tensor<1x2x1x4xf32>
  %2 = cv.graph.slice %0 {axes = array<i64: 2, 3>, starts = array<i64: 7, 7>, sizes = array<i64: 1, 4>, steps = array<i64: 1, -2>} : tensor<1x2x8x8xf32> -> tensor<1x2x1x4xf32>
  return %0, %1#0, %1#2, %2 : tensor<1x2x8x8xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x2xf32>, tensor<1x2x1x4xf32>
}

// CHECK-LABEL: func.func @expand_trilu_topk
func.func @expand_trilu_topk(%m: tensor<8x8xf32>, %r: tensor<6x8xf32>) -> (tensor<2x4x8x8xf32>, tensor<6x2xf32>, tensor<6x2xi64>) {
  // CHECK: cv.graph.trilu %{{.*}} {k = 1 : i64} : tensor<8x8xf32>
  %0 = cv.graph.trilu %m {k = 1 : i64} : tensor<8x8xf32>
  // CHECK: cv.graph.trilu %{{.*}} {upper = false} : tensor<8x8xf32>
  %1 = cv.graph.trilu %0 {upper = false} : tensor<8x8xf32>
  // CHECK: cv.graph.expand %{{.*}} : tensor<8x8xf32> -> tensor<2x4x8x8xf32>
  %2 = cv.graph.expand %1 : tensor<8x8xf32> -> tensor<2x4x8x8xf32>
  // CHECK: cv.graph.topk %{{.*}} {axis = 1 : i64, k = 2 : i64} : tensor<6x8xf32> -> tensor<6x2xf32>, tensor<6x2xi64>
  %3:2 = cv.graph.topk %r {k = 2 : i64, axis = 1 : i64} : tensor<6x8xf32> -> tensor<6x2xf32>, tensor<6x2xi64>
  return %2, %3#0, %3#1 : tensor<2x4x8x8xf32>, tensor<6x2xf32>, tensor<6x2xi64>
}

// Symbolic dimensions flow through inference: concat adds them (dynamic), reshape
// keeps them and names them with cv.dims.
// CHECK-LABEL: func.func @symbolic
func.func @symbolic(%past: tensor<1x2x?x8xf32>, %new: tensor<1x2x?x8xf32>, %x: tensor<?x?x64xf32>) -> (tensor<1x2x?x8xf32>, tensor<?x?x4x16xf32>) {
  // CHECK: cv.graph.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %0 = cv.graph.concat %past, %new {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  // CHECK: cv.graph.reshape %{{.*}} {cv.dims = ["batch", "seq", "", ""]} : tensor<?x?x64xf32> -> tensor<?x?x4x16xf32>
  %1 = cv.graph.reshape %x {cv.dims = ["batch", "seq", "", ""]} : tensor<?x?x64xf32> -> tensor<?x?x4x16xf32>
  return %0, %1 : tensor<1x2x?x8xf32>, tensor<?x?x4x16xf32>
}

// Symbolic sizes as values: positions past .. past + seq - 1.
// CHECK-LABEL: func.func @symbolic_values
func.func @symbolic_values() -> (tensor<?xi64>, tensor<2xi64>) {
  // CHECK: %[[I:.*]] = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  %0 = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  // CHECK: %[[P:.*]] = cv.graph.dim_value ["past"] : tensor<i64>
  %1 = cv.graph.dim_value ["past"] : tensor<i64>
  // CHECK: cv.graph.add %[[I]], %[[P]] : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %2 = cv.graph.add %0, %1 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  // CHECK: cv.graph.dim_value ["batch", "past + seq"] : tensor<2xi64>
  %3 = cv.graph.dim_value ["batch", "past + seq"] : tensor<2xi64>
  return %2, %3 : tensor<?xi64>, tensor<2xi64>
}

// CHECK-LABEL: func.func @silu
func.func @silu(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: cv.graph.silu %{{.*}} : tensor<4xf32>
  %0 = cv.graph.silu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
