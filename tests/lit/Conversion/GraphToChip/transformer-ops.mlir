// convert-graph-to-chip, transformer ops: every fused op and every primitive the tiny LLM
// exports keep after fusion becomes cv.chip burst instructions; i64 ids become i32, i1 masks i8.
// RUN: conveyor-opt %s --convert-graph-to-chip -split-input-file | FileCheck %s --implicit-check-not=cv.graph.

// CHECK-LABEL: func.func @decoder
// CHECK-SAME: %{{.*}}: tensor<1x2xi32> {cv.name = "ids"}
// CHECK: %[[IDS:.*]] = cv.chip.mem_write %{{.*}}, "ids" : tensor<1x2xi32>
// CHECK: %[[MASK:.*]] = cv.chip.weight "mask" {value = dense<{{\[}}[1, 0]]> : tensor<1x2xi8>}
// CHECK: %[[E:.*]] = cv.chip.mem_gather %{{.*}}, %[[IDS]] {axis = 0 : i64} : (tensor<16x8xf32>, tensor<1x2xi32>) -> tensor<1x2x8xf32>
// CHECK: %[[N:.*]] = cv.chip.vxm_rms_norm %[[E]], %{{.*}} {axis = 2 : i64, epsilon = 9.99999974E-6 : f32}
// CHECK: %[[LN:.*]] = cv.chip.vxm_layer_norm %[[N]], %{{.*}}, %[[ZB:.*]] {axis = 2 : i64
// CHECK: %[[GATE:.*]] = cv.chip.mxm_matmul %[[LN]], %{{.*}} : (tensor<1x2x8xf32>, tensor<8x4xf32>) -> tensor<1x2x4xf32>
// CHECK: %[[ACT:.*]] = cv.chip.vxm_unary "silu" %[[GATE]]
// CHECK: %[[UP:.*]] = cv.chip.mxm_matmul %[[LN]]
// CHECK: %[[H:.*]] = cv.chip.vxm_binary "mul" %[[ACT]], %[[UP]]
// CHECK: %[[DOWN:.*]] = cv.chip.mxm_matmul %[[H]], %{{.*}} : (tensor<1x2x4xf32>, tensor<4x8xf32>) -> tensor<1x2x8xf32>
// CHECK: %[[R:.*]] = cv.chip.view %[[DOWN]] : tensor<1x2x8xf32> -> tensor<1x2x2x4xf32>
// CHECK: %[[ROT:.*]] = cv.chip.vxm_rotary %[[R]], %{{.*}}, %{{.*}} : (tensor<1x2x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
// CHECK: %[[CAT:.*]] = cv.chip.mem_concat %{{.*}}, %[[ROT]] {axis = 1 : i64} : (tensor<1x3x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x5x2x4xf32>
// CHECK: %[[HALF:.*]] = cv.chip.mem_slice %[[CAT]], [0, 0, 0, 0], [1, 1, 1, 1] : tensor<1x5x2x4xf32> -> tensor<1x5x2x2xf32>
// CHECK: %[[OTHER:.*]] = cv.chip.mem_slice %[[CAT]], [0, 0, 0, 2], [1, 1, 1, 1] : tensor<1x5x2x4xf32> -> tensor<1x5x2x2xf32>
// CHECK: %[[LAST:.*]] = cv.chip.mem_slice %[[HALF]], [0, 4, 0, 0], [1, 1, 1, 1] : tensor<1x5x2x2xf32> -> tensor<1x1x2x2xf32>
// CHECK: %[[WIDE:.*]] = cv.chip.sxm_broadcast %[[LAST]] : tensor<1x1x2x2xf32> -> tensor<3x1x2x2xf32>
// CHECK: %[[SUM:.*]] = cv.chip.vxm_reduce "sum" %[[WIDE]], [0, 3] : tensor<3x1x2x2xf32> -> tensor<1x1x2x1xf32>
// CHECK: %[[FLAT:.*]] = cv.chip.view %[[SUM]] : tensor<1x1x2x1xf32> -> tensor<1x2xf32>
// CHECK: %[[SEL:.*]] = cv.chip.vxm_select %[[MASK]], %[[FLAT]], %{{.*}} : (tensor<1x2xi8>, tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
// CHECK: %[[EXP:.*]] = cv.chip.vxm_unary "exp" %[[SEL]]
// CHECK: %[[POW:.*]] = cv.chip.vxm_binary "pow" %[[EXP]], %{{.*}}
// CHECK: %[[VALS:.*]] = cv.chip.vxm_topk %[[POW]] {axis = 1 : i64, indices = false, k = 1 : i64} : tensor<1x2xf32> -> tensor<1x1xf32>
// CHECK: %[[IDX:.*]] = cv.chip.vxm_topk %[[POW]] {axis = 1 : i64, indices = true, k = 1 : i64} : tensor<1x2xf32> -> tensor<1x1xi32>
// CHECK: cv.chip.mem_read %[[VALS]], "values"
// CHECK: cv.chip.mem_read %[[IDX]], "indices"
// CHECK: cv.chip.mem_read %[[OTHER]], "other"
// CHECK: return {{.*}} : tensor<1x1xf32>, tensor<1x1xi32>, tensor<1x5x2x2xf32>
module attributes {cv.model_name = "transformer-ops"} {
  func.func @decoder(%ids: tensor<1x2xi64> {cv.name = "ids"}, %past: tensor<1x3x2x4xf32> {cv.name = "past"})
      -> (tensor<1x1xf32> {cv.name = "values"}, tensor<1x1xi64> {cv.name = "indices"}, tensor<1x5x2x2xf32> {cv.name = "other"}) {
    %mask = cv.graph.constant {name = "mask"} dense<[[true, false]]> : tensor<1x2xi1> : tensor<1x2xi1>
    %table = cv.graph.constant {name = "table"} dense<0.5> : tensor<16x8xf32> : tensor<16x8xf32>
    %gamma = cv.graph.constant {name = "gamma"} dense<1.0> : tensor<8xf32> : tensor<8xf32>
    %wg = cv.graph.constant {name = "wg"} dense<0.1> : tensor<8x4xf32> : tensor<8x4xf32>
    %wu = cv.graph.constant {name = "wu"} dense<0.2> : tensor<8x4xf32> : tensor<8x4xf32>
    %wd = cv.graph.constant {name = "wd"} dense<0.3> : tensor<4x8xf32> : tensor<4x8xf32>
    %cos = cv.graph.constant {name = "cos"} dense<1.0> : tensor<2x4xf32> : tensor<2x4xf32>
    %sin = cv.graph.constant {name = "sin"} dense<0.0> : tensor<2x4xf32> : tensor<2x4xf32>
    %fill = cv.graph.constant {name = "fill"} dense<-1.0> : tensor<f32> : tensor<f32>
    %two = cv.graph.constant {name = "two"} dense<2.0> : tensor<f32> : tensor<f32>
    %e = cv.graph.embedding %table, %ids : (tensor<16x8xf32>, tensor<1x2xi64>) -> tensor<1x2x8xf32>
    %n = cv.graph.rms_norm %e, %gamma : (tensor<1x2x8xf32>, tensor<8xf32>) -> tensor<1x2x8xf32>
    %ln = cv.graph.layer_norm %n, %gamma {axis = -1 : i64} : (tensor<1x2x8xf32>, tensor<8xf32>) -> tensor<1x2x8xf32>
    %mlp = cv.graph.gated_mlp %ln, %wg, %wu, %wd {activation = "silu"} : (tensor<1x2x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<4x8xf32>) -> tensor<1x2x8xf32>
    %r = cv.graph.reshape %mlp : tensor<1x2x8xf32> -> tensor<1x2x2x4xf32>
    %rot = cv.graph.rotary %r, %cos, %sin : (tensor<1x2x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
    %cat = cv.graph.concat %past, %rot {axis = 1 : i64} : (tensor<1x3x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x5x2x4xf32>
    %half:2 = cv.graph.split %cat {axis = 3 : i64, sizes = array<i64: 2, 2>} : tensor<1x5x2x4xf32> -> tensor<1x5x2x2xf32>, tensor<1x5x2x2xf32>
    %last = cv.graph.slice %half#0 {axes = array<i64: 1>, starts = array<i64: 4>, sizes = array<i64: 1>, steps = array<i64: 1>} : tensor<1x5x2x2xf32> -> tensor<1x1x2x2xf32>
    %wide = cv.graph.expand %last : tensor<1x1x2x2xf32> -> tensor<3x1x2x2xf32>
    %sum = cv.graph.reduce_sum %wide, [0, 3] {keepdims = false} : tensor<3x1x2x2xf32> -> tensor<1x2xf32>
    %sel = cv.graph.where %mask, %sum, %fill : (tensor<1x2xi1>, tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
    %exp = cv.graph.exp %sel : tensor<1x2xf32>
    %pow = cv.graph.pow %exp, %two : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
    %values, %indices = cv.graph.topk %pow {axis = 1 : i64, k = 1 : i64} : tensor<1x2xf32> -> tensor<1x1xf32>, tensor<1x1xi64>
    return %values, %indices, %half#1 : tensor<1x1xf32>, tensor<1x1xi64>, tensor<1x5x2x2xf32>
  }
}

// -----

// Fused attention (GQA, causal) and MoE (top-2 of 4 gated experts, renormalised).
// CHECK-LABEL: func.func @fused
// GQA: the two query heads of the one KV head are a view ([1, 1, 2 * 2, 4]); K and V are
// not broadcast per head.
// CHECK-NOT: cv.chip.sxm_broadcast
// CHECK: %[[KT:.*]] = cv.chip.sxm_transpose %{{.*}}, [0, 1, 3, 2] : tensor<1x1x3x4xf32> -> tensor<1x1x4x3xf32>
// CHECK: %[[QG:.*]] = cv.chip.view %{{.*}} : tensor<1x2x2x4xf32> -> tensor<1x1x4x4xf32>
// CHECK: %[[SG:.*]] = cv.chip.mxm_matmul %[[QG]], %[[KT]] : (tensor<1x1x4x4xf32>, tensor<1x1x4x3xf32>) -> tensor<1x1x4x3xf32>
// CHECK: %[[S:.*]] = cv.chip.view %[[SG]] : tensor<1x1x4x3xf32> -> tensor<1x2x2x3xf32>
// The scores [.., 2, 3] are smaller than q [.., 2, 4]: the scale multiplies the scores.
// CHECK: %[[SC:.*]] = cv.chip.weight "attention.scale" {value = dense<5.000000e-01> : tensor<f32>}
// CHECK: %[[SS:.*]] = cv.chip.vxm_binary "mul" %[[S]], %[[SC]]
// CHECK: %[[MASK:.*]] = cv.chip.weight "attention.causal_mask" {value = dense<{{\[}}[0.000000e+00, 0.000000e+00, 0xFF800000], [0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x3xf32>}
// CHECK: %[[M:.*]] = cv.chip.vxm_binary "add" %[[SS]], %[[MASK]]
// CHECK: %[[P:.*]] = cv.chip.vxm_softmax %[[M]] {axis = 3 : i64}
// CHECK: %[[PG:.*]] = cv.chip.view %[[P]] : tensor<1x2x2x3xf32> -> tensor<1x1x4x3xf32>
// CHECK: %[[AG:.*]] = cv.chip.mxm_matmul %[[PG]], %{{.*}} : (tensor<1x1x4x3xf32>, tensor<1x1x3x4xf32>) -> tensor<1x1x4x4xf32>
// CHECK: cv.chip.view %[[AG]] : tensor<1x1x4x4xf32> -> tensor<1x2x2x4xf32>
// CHECK: %[[ROWS:.*]] = cv.chip.view %{{.*}} : tensor<1x2x8xf32> -> tensor<2x8xf32>
// CHECK: %[[LOGITS:.*]] = cv.chip.mxm_matmul %[[ROWS]], %{{.*}} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
// CHECK: %[[PROB:.*]] = cv.chip.vxm_softmax %[[LOGITS]] {axis = 1 : i64}
// CHECK: %[[W:.*]] = cv.chip.vxm_topk %[[PROB]] {axis = 1 : i64, indices = false, k = 2 : i64} : tensor<2x4xf32> -> tensor<2x2xf32>
// CHECK: %[[IDX:.*]] = cv.chip.vxm_topk %[[PROB]] {axis = 1 : i64, indices = true, k = 2 : i64} : tensor<2x4xf32> -> tensor<2x2xi32>
// CHECK: %[[WSUM:.*]] = cv.chip.vxm_reduce "sum" %[[W]], [1] : tensor<2x2xf32> -> tensor<2x1xf32>
// CHECK: %[[WN:.*]] = cv.chip.vxm_binary "div" %[[W]], %[[WSUM]]
// CHECK: %[[X:.*]] = cv.chip.view %[[ROWS]] : tensor<2x8xf32> -> tensor<2x1x1x8xf32>
// The experts' weights are read in place: no gathered copy of the [4, K, N] stacks.
// CHECK-NOT: cv.chip.mem_gather
// CHECK: %[[G:.*]] = cv.chip.mxm_expert_matmul %[[X]], %{{.*}}, %[[IDX]] : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
// CHECK: cv.chip.vxm_unary "silu" %[[G]]
// CHECK: %[[U:.*]] = cv.chip.mxm_expert_matmul %[[X]], %{{.*}}, %[[IDX]] : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
// CHECK: %[[H:.*]] = cv.chip.vxm_binary "mul" %{{.*}}, %[[U]]
// CHECK: %[[D:.*]] = cv.chip.mxm_expert_matmul %[[H]], %{{.*}}, %[[IDX]] : (tensor<2x2x1x6xf32>, tensor<4x6x8xf32>, tensor<2x2xi32>) -> tensor<2x2x1x8xf32>
// CHECK: %[[PER:.*]] = cv.chip.view %[[D]] : tensor<2x2x1x8xf32> -> tensor<2x2x8xf32>
// CHECK: %[[WV:.*]] = cv.chip.view %[[WN]] : tensor<2x2xf32> -> tensor<2x2x1xf32>
// CHECK: %[[WEIGHTED:.*]] = cv.chip.vxm_binary "mul" %[[PER]], %[[WV]]
// CHECK: %[[SUM:.*]] = cv.chip.vxm_reduce "sum" %[[WEIGHTED]], [1] : tensor<2x2x8xf32> -> tensor<2x1x8xf32>
// CHECK: cv.chip.view %[[SUM]] : tensor<2x1x8xf32> -> tensor<1x2x8xf32>
module {
  func.func @fused(%q: tensor<1x2x2x4xf32> {cv.name = "q"}, %k: tensor<1x1x3x4xf32> {cv.name = "k"},
                   %v: tensor<1x1x3x4xf32> {cv.name = "v"}, %x: tensor<1x2x8xf32> {cv.name = "x"})
      -> (tensor<1x2x2x4xf32> {cv.name = "attention"}, tensor<1x2x8xf32> {cv.name = "moe"}) {
    %router = cv.graph.constant {name = "router"} dense<0.1> : tensor<8x4xf32> : tensor<8x4xf32>
    %gate = cv.graph.constant {name = "gate"} dense<0.2> : tensor<4x8x6xf32> : tensor<4x8x6xf32>
    %up = cv.graph.constant {name = "up"} dense<0.3> : tensor<4x8x6xf32> : tensor<4x8x6xf32>
    %down = cv.graph.constant {name = "down"} dense<0.4> : tensor<4x6x8xf32> : tensor<4x6x8xf32>
    %a = cv.graph.attention %q, %k, %v {scale = 0.5 : f64, causal = true} : (tensor<1x2x2x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x2x4xf32>
    %m = cv.graph.moe %x router(%router) gate(%gate) up(%up) down(%down) {top_k = 2 : i64, activation = "silu", normalize_weights = true} : (tensor<1x2x8xf32>, tensor<8x4xf32>, tensor<4x8x6xf32>, tensor<4x8x6xf32>, tensor<4x6x8xf32>) -> tensor<1x2x8xf32>
    return %a, %m : tensor<1x2x2x4xf32>, tensor<1x2x8xf32>
  }
}
