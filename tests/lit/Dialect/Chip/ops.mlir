// Round trip of every cv.chip op (printed form re-parsed, and through the generic form),
// with and without placement attributes.
// RUN: conveyor-opt %s | conveyor-opt | FileCheck %s
// RUN: conveyor-opt %s --mlir-print-op-generic | conveyor-opt | FileCheck %s

// CHECK-LABEL: func.func @main
func.func @main(%arg0: tensor<1x8x64xf32> {cv.name = "x"}) -> (tensor<8x64xf32> {cv.name = "y"}) {
  // CHECK: %[[W:.*]] = cv.chip.weight "w" {sram_addr = 0 : i64, value = dense<5.000000e-01> : tensor<64x64xf32>} : tensor<64x64xf32>
  %w = cv.chip.weight "w" {sram_addr = 0 : i64, value = dense<0.5> : tensor<64x64xf32>} : tensor<64x64xf32>
  // CHECK: %[[B:.*]] = cv.chip.weight "b" {value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>} : tensor<2xf32>
  %b = cv.chip.weight "b" {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
  // CHECK: %[[X:.*]] = cv.chip.mem_write %{{.*}}, "x" {chip = 0 : i32, issue = 0 : i64, sram_addr = 16384 : i64} : tensor<1x8x64xf32>
  %x = cv.chip.mem_write %arg0, "x" {chip = 0 : i32, issue = 0 : i64, sram_addr = 16384 : i64} : tensor<1x8x64xf32>
  // CHECK: %[[M:.*]] = cv.chip.mxm_matmul %[[X]], %[[W]] : (tensor<1x8x64xf32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
  %m = cv.chip.mxm_matmul %x, %w : (tensor<1x8x64xf32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
  // CHECK: %[[A:.*]] = cv.chip.vxm_binary "add" %[[M]], %[[X]] : (tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> tensor<1x8x64xf32>
  %a = cv.chip.vxm_binary "add" %m, %x : (tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> tensor<1x8x64xf32>
  // CHECK: %[[G:.*]] = cv.chip.vxm_unary "gelu_tanh" %[[A]] : tensor<1x8x64xf32>
  %g = cv.chip.vxm_unary "gelu_tanh" %a : tensor<1x8x64xf32>
  // CHECK: %[[S:.*]] = cv.chip.vxm_softmax %[[G]] {axis = 2 : i64} : tensor<1x8x64xf32>
  %s = cv.chip.vxm_softmax %g {axis = 2 : i64} : tensor<1x8x64xf32>
  // CHECK: %[[T:.*]] = cv.chip.sxm_transpose %[[S]], [0, 2, 1] : tensor<1x8x64xf32> -> tensor<1x64x8xf32>
  %t = cv.chip.sxm_transpose %s, [0, 2, 1] : tensor<1x8x64xf32> -> tensor<1x64x8xf32>
  // CHECK: %[[V:.*]] = cv.chip.view %[[T]] : tensor<1x64x8xf32> -> tensor<8x64xf32>
  %v = cv.chip.view %t : tensor<1x64x8xf32> -> tensor<8x64xf32>
  // CHECK: %[[C:.*]] = cv.chip.mem_copy %[[V]] : tensor<8x64xf32>
  %c = cv.chip.mem_copy %v : tensor<8x64xf32>
  // CHECK: %[[R:.*]] = cv.chip.mem_read %[[C]], "y" {issue = 5000 : i64} : tensor<8x64xf32>
  %r = cv.chip.mem_read %c, "y" {issue = 5000 : i64} : tensor<8x64xf32>
  // CHECK: return %[[R]]
  return %r : tensor<8x64xf32>
}

// Broadcasting on the VXM, batch broadcast and integer accumulation on the MXM.
// CHECK-LABEL: func.func @broadcasts
func.func @broadcasts(%a: tensor<3x1x4x5xi8>, %b: tensor<2x5x6xi8>, %c: tensor<4x1xf16>, %d: tensor<3xf16>) -> (tensor<3x2x4x6xi32>, tensor<4x3xf16>) {
  %x = cv.chip.mem_write %a, "a" : tensor<3x1x4x5xi8>
  %y = cv.chip.mem_write %b, "b" : tensor<2x5x6xi8>
  // CHECK: cv.chip.mxm_matmul %{{.*}}, %{{.*}} : (tensor<3x1x4x5xi8>, tensor<2x5x6xi8>) -> tensor<3x2x4x6xi32>
  %m = cv.chip.mxm_matmul %x, %y : (tensor<3x1x4x5xi8>, tensor<2x5x6xi8>) -> tensor<3x2x4x6xi32>
  %u = cv.chip.mem_write %c, "c" : tensor<4x1xf16>
  %v = cv.chip.mem_write %d, "d" : tensor<3xf16>
  // CHECK: cv.chip.vxm_binary "div" %{{.*}}, %{{.*}} : (tensor<4x1xf16>, tensor<3xf16>) -> tensor<4x3xf16>
  %q = cv.chip.vxm_binary "div" %u, %v : (tensor<4x1xf16>, tensor<3xf16>) -> tensor<4x3xf16>
  %r0 = cv.chip.mem_read %m, "m" : tensor<3x2x4x6xi32>
  %r1 = cv.chip.mem_read %q, "q" : tensor<4x3xf16>
  return %r0, %r1 : tensor<3x2x4x6xi32>, tensor<4x3xf16>
}
