// conveyor-chip-fold-attention-scale: the attention scale multiplying the queries (or the
// scores q k^T) is folded into the q projection's weights: through views, transposes and
// the rotary embedding (all linear in q), into the f32 weight data or, after quantisation,
// into the per-channel dequantisation scales. The vxm_binary "mul" disappears.
// RUN: conveyor-opt %s --conveyor-chip-fold-attention-scale | FileCheck %s

// The queries: matmul -> view -> transpose -> rotary -> mul 0.5; the weight's data halves.
// CHECK-LABEL: func.func @query
// CHECK: %[[W:.*]] = cv.chip.weight "q.weight" {value = dense<{{\[}}[5.000000e-01, 1.000000e+00], [-1.500000e+00, 2.000000e+00]]> : tensor<2x2xf32>}
// CHECK-NOT: attention.scale
// CHECK: %[[Q:.*]] = cv.chip.mxm_matmul %{{.*}}, %[[W]]
// CHECK: %[[R:.*]] = cv.chip.vxm_rotary
// CHECK-NOT: cv.chip.vxm_binary
// CHECK: cv.chip.mxm_matmul %[[R]], %{{.*}}
// The scores q k^T scaled: the same fold, through the scores product's lhs.
// CHECK-LABEL: func.func @scores
// CHECK: cv.chip.weight "q.weight" {value = dense<{{\[}}[2.500000e-01, 5.000000e-01], [-7.500000e-01, 1.000000e+00]]>
// CHECK-NOT: cv.chip.vxm_binary
// CHECK: cv.chip.vxm_softmax
// A dequantising product: its per-channel scales take the factor, the int8 weight stays.
// CHECK-LABEL: func.func @dequantised
// CHECK: cv.chip.weight "q.weight.int8" {value = dense<{{\[}}[1, 2], [3, 4]]> : tensor<2x2xi8>}
// CHECK: cv.chip.weight "q.weight.scale" {value = dense<[5.000000e-02, 1.000000e-01]> : tensor<2xf32>}
// CHECK-NOT: cv.chip.vxm_binary
// A weight another product also reads is copied before it is scaled.
// CHECK-LABEL: func.func @shared_weight
// CHECK-DAG: %[[KEEP:.*]] = cv.chip.weight "w" {value = dense<{{\[}}[1.000000e+00, 2.000000e+00], [-3.000000e+00, 4.000000e+00]]>
// CHECK-DAG: %[[SCALED:.*]] = cv.chip.weight "w.scaled" {value = dense<{{\[}}[5.000000e-01, 1.000000e+00], [-1.500000e+00, 2.000000e+00]]>
// CHECK: cv.chip.mxm_matmul %{{.*}}, %[[SCALED]]
// CHECK: cv.chip.mxm_matmul %{{.*}}, %[[KEEP]]
// CHECK-NOT: cv.chip.vxm_binary
// Not linear in q (a relu between): left alone.
// CHECK-LABEL: func.func @not_linear
// CHECK: cv.chip.vxm_binary "mul"
module {
  func.func @query(%x: tensor<1x1x2xf32> {cv.name = "x"}, %k: tensor<1x1x2x4xf32> {cv.name = "k"})
      -> (tensor<1x1x1x4xf32> {cv.name = "scores"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x1x2xf32>
    %k0 = cv.chip.mem_write %k, "k" : tensor<1x1x2x4xf32>
    %w = cv.chip.weight "q.weight" {value = dense<[[1.0, 2.0], [-3.0, 4.0]]> : tensor<2x2xf32>} : tensor<2x2xf32>
    %cos = cv.chip.weight "cos" {value = dense<[[0.5, 0.25]]> : tensor<1x2xf32>} : tensor<1x2xf32>
    %sin = cv.chip.weight "sin" {value = dense<[[0.75, 0.125]]> : tensor<1x2xf32>} : tensor<1x2xf32>
    %s = cv.chip.weight "attention.scale" {value = dense<0.5> : tensor<f32>} : tensor<f32>
    %q = cv.chip.mxm_matmul %x0, %w : (tensor<1x1x2xf32>, tensor<2x2xf32>) -> tensor<1x1x2xf32>
    %v = cv.chip.view %q : tensor<1x1x2xf32> -> tensor<1x1x1x2xf32>
    %t = cv.chip.sxm_transpose %v, [0, 2, 1, 3] : tensor<1x1x1x2xf32> -> tensor<1x1x1x2xf32>
    %r = cv.chip.vxm_rotary %t, %cos, %sin : (tensor<1x1x1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x1x1x2xf32>
    %m = cv.chip.vxm_binary "mul" %r, %s : (tensor<1x1x1x2xf32>, tensor<f32>) -> tensor<1x1x1x2xf32>
    %p = cv.chip.mxm_matmul %m, %k0 : (tensor<1x1x1x2xf32>, tensor<1x1x2x4xf32>) -> tensor<1x1x1x4xf32>
    %o = cv.chip.mem_read %p, "scores" : tensor<1x1x1x4xf32>
    return %o : tensor<1x1x1x4xf32>
  }
  func.func @scores(%x: tensor<1x1x2xf32> {cv.name = "x"}, %k: tensor<1x1x2x4xf32> {cv.name = "k"})
      -> (tensor<1x1x1x4xf32> {cv.name = "probabilities"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x1x2xf32>
    %k0 = cv.chip.mem_write %k, "k" : tensor<1x1x2x4xf32>
    %w = cv.chip.weight "q.weight" {value = dense<[[1.0, 2.0], [-3.0, 4.0]]> : tensor<2x2xf32>} : tensor<2x2xf32>
    %s = cv.chip.weight "attention.scale" {value = dense<0.25> : tensor<f32>} : tensor<f32>
    %q = cv.chip.mxm_matmul %x0, %w : (tensor<1x1x2xf32>, tensor<2x2xf32>) -> tensor<1x1x2xf32>
    %v = cv.chip.view %q : tensor<1x1x2xf32> -> tensor<1x1x1x2xf32>
    %p = cv.chip.mxm_matmul %v, %k0 : (tensor<1x1x1x2xf32>, tensor<1x1x2x4xf32>) -> tensor<1x1x1x4xf32>
    %m = cv.chip.vxm_binary "mul" %p, %s : (tensor<1x1x1x4xf32>, tensor<f32>) -> tensor<1x1x1x4xf32>
    %e = cv.chip.vxm_softmax %m {axis = 3 : i64} : tensor<1x1x1x4xf32>
    %o = cv.chip.mem_read %e, "probabilities" : tensor<1x1x1x4xf32>
    return %o : tensor<1x1x1x4xf32>
  }
  func.func @dequantised(%x: tensor<1x2xf32> {cv.name = "x"}) -> (tensor<1x2xf32> {cv.name = "q"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x2xf32>
    %w = cv.chip.weight "q.weight.int8" {value = dense<[[1, 2], [3, 4]]> : tensor<2x2xi8>} : tensor<2x2xi8>
    %c = cv.chip.weight "q.weight.scale" {value = dense<[0.1, 0.2]> : tensor<2xf32>} : tensor<2xf32>
    %s = cv.chip.weight "attention.scale" {value = dense<0.5> : tensor<f32>} : tensor<f32>
    %q = cv.chip.mxm_matmul_dq %x0, %w, %c : (tensor<1x2xf32>, tensor<2x2xi8>, tensor<2xf32>) -> tensor<1x2xf32>
    %m = cv.chip.vxm_binary "mul" %s, %q : (tensor<f32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %o = cv.chip.mem_read %m, "q" : tensor<1x2xf32>
    return %o : tensor<1x2xf32>
  }
  func.func @shared_weight(%x: tensor<1x2xf32> {cv.name = "x"})
      -> (tensor<1x2xf32> {cv.name = "a"}, tensor<1x2xf32> {cv.name = "b"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x2xf32>
    %w = cv.chip.weight "w" {value = dense<[[1.0, 2.0], [-3.0, 4.0]]> : tensor<2x2xf32>} : tensor<2x2xf32>
    %s = cv.chip.weight "attention.scale" {value = dense<0.5> : tensor<f32>} : tensor<f32>
    %a = cv.chip.mxm_matmul %x0, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    %b = cv.chip.mxm_matmul %x0, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    %m = cv.chip.vxm_binary "mul" %a, %s : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
    %o1 = cv.chip.mem_read %m, "a" : tensor<1x2xf32>
    %o2 = cv.chip.mem_read %b, "b" : tensor<1x2xf32>
    return %o1, %o2 : tensor<1x2xf32>, tensor<1x2xf32>
  }
  func.func @not_linear(%x: tensor<1x2xf32> {cv.name = "x"}) -> (tensor<1x2xf32> {cv.name = "y"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x2xf32>
    %w = cv.chip.weight "w" {value = dense<[[1.0, 2.0], [-3.0, 4.0]]> : tensor<2x2xf32>} : tensor<2x2xf32>
    %s = cv.chip.weight "attention.scale" {value = dense<0.5> : tensor<f32>} : tensor<f32>
    %a = cv.chip.mxm_matmul %x0, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    %r = cv.chip.vxm_unary "relu" %a : tensor<1x2xf32>
    %m = cv.chip.vxm_binary "mul" %r, %s : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
    %o = cv.chip.mem_read %m, "y" : tensor<1x2xf32>
    return %o : tensor<1x2xf32>
  }
}
