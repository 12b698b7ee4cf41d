// convert-graph-to-chip: host transfers at the function boundary, one instruction per op,
// gemm transposes and scales folded into constant data, nothing of cv.graph left.
// RUN: conveyor-opt %s --convert-graph-to-chip -split-input-file | FileCheck %s --implicit-check-not=cv.graph.

// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[ARG0:.*]]: tensor<1x8x64xf32> {cv.name = "x"})
// CHECK: %[[X:.*]] = cv.chip.mem_write %[[ARG0]], "x" : tensor<1x8x64xf32>
// CHECK: %[[W:.*]] = cv.chip.weight "w" {value = dense<5.000000e-01> : tensor<64x64xf32>} : tensor<64x64xf32>
// CHECK: %[[B:.*]] = cv.chip.weight "b" {value = dense<2.500000e-01> : tensor<64xf32>} : tensor<64xf32>
// CHECK: %[[M:.*]] = cv.chip.mxm_matmul %[[X]], %[[W]] : (tensor<1x8x64xf32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
// CHECK: %[[A:.*]] = cv.chip.vxm_binary "add" %[[M]], %[[B]]
// CHECK: %[[S:.*]] = cv.chip.vxm_binary "sub" %[[A]], %[[X]]
// CHECK: %[[P:.*]] = cv.chip.vxm_binary "mul" %[[S]], %[[A]]
// CHECK: %[[D:.*]] = cv.chip.vxm_binary "div" %[[P]], %[[B]]
// CHECK: %[[G:.*]] = cv.chip.vxm_unary "gelu_tanh" %[[D]] : tensor<1x8x64xf32>
// CHECK: %[[E:.*]] = cv.chip.vxm_unary "gelu" %[[G]] : tensor<1x8x64xf32>
// CHECK: %[[R:.*]] = cv.chip.vxm_unary "relu" %[[E]] : tensor<1x8x64xf32>
// CHECK: %[[SM:.*]] = cv.chip.vxm_softmax %[[R]] {axis = 2 : i64} : tensor<1x8x64xf32>
// CHECK: %[[T:.*]] = cv.chip.sxm_transpose %[[SM]], [0, 2, 1] : tensor<1x8x64xf32> -> tensor<1x64x8xf32>
// CHECK: %[[V:.*]] = cv.chip.view %[[T]] : tensor<1x64x8xf32> -> tensor<64x8xf32>
// CHECK: %[[OUT:.*]] = cv.chip.mem_read %[[V]], "y" : tensor<64x8xf32>
// CHECK: return %[[OUT]] : tensor<64x8xf32>
module attributes {cv.model_name = "every-op"} {
  func.func @main(%x: tensor<1x8x64xf32> {cv.name = "x"}) -> (tensor<64x8xf32> {cv.name = "y"}) {
    %w = cv.graph.constant {name = "w"} dense<0.5> : tensor<64x64xf32> : tensor<64x64xf32>
    %b = cv.graph.constant {name = "b"} dense<0.25> : tensor<64xf32> : tensor<64xf32>
    %m = cv.graph.matmul %x, %w : (tensor<1x8x64xf32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
    %a = cv.graph.add %m, %b : (tensor<1x8x64xf32>, tensor<64xf32>) -> tensor<1x8x64xf32>
    %s = cv.graph.sub %a, %x : (tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> tensor<1x8x64xf32>
    %p = cv.graph.mul %s, %a : (tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> tensor<1x8x64xf32>
    %d = cv.graph.div %p, %b : (tensor<1x8x64xf32>, tensor<64xf32>) -> tensor<1x8x64xf32>
    %g = cv.graph.gelu %d {approximate = "tanh"} : tensor<1x8x64xf32>
    %e = cv.graph.gelu %g : tensor<1x8x64xf32>
    %r = cv.graph.relu %e : tensor<1x8x64xf32>
    %sm = cv.graph.softmax %r {axis = -1 : i64} : tensor<1x8x64xf32>
    %t = cv.graph.transpose %sm, [0, 2, 1] : tensor<1x8x64xf32> -> tensor<1x64x8xf32>
    %v = cv.graph.reshape %t : tensor<1x64x8xf32> -> tensor<64x8xf32>
    return %v : tensor<64x8xf32>
  }
}

// -----

// A linear layer as ONNX writes it (transB = 1): the transpose is folded into the weight
// data, and the weight that is no longer used is gone.
// CHECK-LABEL: func.func @linear
// CHECK: %[[X:.*]] = cv.chip.mem_write
// CHECK-NOT: cv.chip.weight "w" 
// CHECK-DAG: %[[WT:.*]] = cv.chip.weight "w.T" {value = dense<{{\[}}[1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>} : tensor<3x2xf32>
// CHECK-DAG: %[[B:.*]] = cv.chip.weight "bias" {value = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>} : tensor<2xf32>
// CHECK: %[[M:.*]] = cv.chip.mxm_matmul %[[X]], %[[WT]] : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
// CHECK: %[[Y:.*]] = cv.chip.vxm_binary "add" %[[M]], %[[B]] : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
// CHECK: cv.chip.mem_read %[[Y]], "y"
func.func @linear(%x: tensor<4x3xf32> {cv.name = "x"}) -> (tensor<4x2xf32> {cv.name = "y"}) {
  %w = cv.graph.constant {name = "w"} dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32> : tensor<2x3xf32>
  %b = cv.graph.constant {name = "bias"} dense<[1.0, -1.0]> : tensor<2xf32> : tensor<2xf32>
  %y = cv.graph.gemm %x, %w, %b {transB = true} : (tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// alpha and beta fold into constant data; transA of a runtime value runs on the SXM;
// a runtime C is scaled by a splat weight on the VXM.
// CHECK-LABEL: func.func @scaled
// CHECK-DAG: %[[A:.*]] = cv.chip.mem_write %{{.*}}, "a" : tensor<2x4xf32>
// CHECK-DAG: %[[C:.*]] = cv.chip.mem_write %{{.*}}, "c" : tensor<4x3xf32>
// CHECK: %[[AT:.*]] = cv.chip.sxm_transpose %[[A]], [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
// CHECK: %[[BS:.*]] = cv.chip.weight "b.scaled" {value = dense<{{\[}}[3.000000e+00, 6.000000e+00, 9.000000e+00], [1.200000e+01, 1.500000e+01, 1.800000e+01]]> : tensor<2x3xf32>} : tensor<2x3xf32>
// CHECK: %[[M:.*]] = cv.chip.mxm_matmul %[[AT]], %[[BS]] : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
// CHECK: %[[BETA:.*]] = cv.chip.weight "gemm.beta" {value = dense<5.000000e-01> : tensor<1x1xf32>} : tensor<1x1xf32>
// CHECK: %[[CS:.*]] = cv.chip.vxm_binary "mul" %[[C]], %[[BETA]] : (tensor<4x3xf32>, tensor<1x1xf32>) -> tensor<4x3xf32>
// CHECK: %[[Y:.*]] = cv.chip.vxm_binary "add" %[[M]], %[[CS]] : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
// CHECK: cv.chip.mem_read %[[Y]], "y"
func.func @scaled(%a: tensor<2x4xf32> {cv.name = "a"}, %c: tensor<4x3xf32> {cv.name = "c"}) -> (tensor<4x3xf32> {cv.name = "y"}) {
  %b = cv.graph.constant {name = "b"} dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32> : tensor<2x3xf32>
  %y = cv.graph.gemm %a, %b, %c {transA = true, alpha = 3.0 : f32, beta = 0.5 : f32} : (tensor<2x4xf32>, tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// With no constant to absorb it, alpha scales the product on the VXM; beta = 0 drops C.
// CHECK-LABEL: func.func @runtime_alpha
// CHECK: %[[P:.*]] = cv.chip.mxm_matmul
// CHECK: %[[ALPHA:.*]] = cv.chip.weight "gemm.alpha" {value = dense<2.000000e+00> : tensor<1x1xf32>} : tensor<1x1xf32>
// CHECK: %[[Y:.*]] = cv.chip.vxm_binary "mul" %[[P]], %[[ALPHA]]
// CHECK-NOT: "add"
// CHECK: cv.chip.mem_read %[[Y]], "y"
func.func @runtime_alpha(%a: tensor<2x3xf32> {cv.name = "a"}, %b: tensor<3x2xf32> {cv.name = "b"}, %c: tensor<2x2xf32> {cv.name = "c"}) -> (tensor<2x2xf32> {cv.name = "y"}) {
  %y = cv.graph.gemm %a, %b, %c {alpha = 2.0 : f32, beta = 0.0 : f32} : (tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// Outputs that share storage with a weight, an input or another output are copied into
// their own buffer; unnamed arguments and results get generated names.
// CHECK-LABEL: func.func @shared_outputs
// CHECK: %[[X:.*]] = cv.chip.mem_write %{{.*}}, "input0" : tensor<4xf32>
// CHECK: %[[W:.*]] = cv.chip.weight "const" {value = dense<2.000000e+00> : tensor<4xf32>} : tensor<4xf32>
// CHECK: %[[S:.*]] = cv.chip.vxm_binary "add" %[[X]], %[[W]]
// CHECK: %[[R0:.*]] = cv.chip.mem_read %[[S]], "sum"
// CHECK: %[[C1:.*]] = cv.chip.mem_copy %[[S]] : tensor<4xf32>
// CHECK: %[[R1:.*]] = cv.chip.mem_read %[[C1]], "sum_again"
// CHECK: %[[C2:.*]] = cv.chip.mem_copy %[[X]] : tensor<4xf32>
// CHECK: %[[R2:.*]] = cv.chip.mem_read %[[C2]], "output2"
// CHECK: %[[C3:.*]] = cv.chip.mem_copy %[[W]] : tensor<4xf32>
// CHECK: %[[R3:.*]] = cv.chip.mem_read %[[C3]], "weight_out"
// CHECK: return %[[R0]], %[[R1]], %[[R2]], %[[R3]]
func.func @shared_outputs(%x: tensor<4xf32>) -> (tensor<4xf32> {cv.name = "sum"}, tensor<4xf32> {cv.name = "sum_again"}, tensor<4xf32>, tensor<4xf32> {cv.name = "weight_out"}) {
  %w = cv.graph.constant dense<2.0> : tensor<4xf32> : tensor<4xf32>
  %s = cv.graph.add %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %s, %s, %x, %w : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
