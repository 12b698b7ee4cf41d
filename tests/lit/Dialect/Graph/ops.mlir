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
