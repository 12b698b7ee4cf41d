// convert-graph-to-chip, decode attention on a resident KV cache (the multi-chip decode step
// keeps each layer's cache in SRAM as a shape-only constant): the new K and V rows are
// written into the cache in place (cv.chip.kv_append), K is kept transposed ([b, kv, d, T])
// so the score product installs it as it lies, and grouped-query heads read their KV head
// through a view of the queries. Nothing of the cache is copied, transposed or broadcast.
// RUN: conveyor-opt %s --convert-graph-to-chip -split-input-file | FileCheck %s --implicit-check-not=cv.graph.

// CHECK-LABEL: func.func @resident
// CHECK-NOT: cv.chip.mem_concat
// CHECK-NOT: cv.chip.sxm_transpose
// CHECK-NOT: cv.chip.sxm_broadcast
// CHECK: %[[Q:.*]] = cv.chip.mem_write %{{.*}}, "q"
// CHECK: %[[K:.*]] = cv.chip.mem_write %{{.*}}, "k"
// CHECK: %[[V:.*]] = cv.chip.mem_write %{{.*}}, "v"
// CHECK: %[[KC:.*]] = cv.chip.weight "past_key_values.{layer}.key" {value = dense_resource<{{.*}}> : tensor<1x2x8x16xf32>}
// CHECK: %[[KT:.*]] = cv.chip.kv_append %[[KC]], %[[K]] {axis = 3 : i64, position = 15 : i64} : (tensor<1x2x8x16xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x8x16xf32>
// CHECK: %[[VC:.*]] = cv.chip.weight "past_key_values.{layer}.value" {value = dense_resource<{{.*}}> : tensor<1x2x16x8xf32>}
// CHECK: %[[VA:.*]] = cv.chip.kv_append %[[VC]], %[[V]] {axis = 2 : i64, position = 15 : i64} : (tensor<1x2x16x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
// q [.., 1, 8] is smaller than the scores [.., 1, 16]: the scale multiplies q.
// CHECK: %[[SC:.*]] = cv.chip.weight "attention.scale" {value = dense<2.500000e-01> : tensor<f32>}
// CHECK: %[[QS:.*]] = cv.chip.vxm_binary "mul" %[[Q]], %[[SC]]
// CHECK: %[[QG:.*]] = cv.chip.view %[[QS]] : tensor<1x4x1x8xf32> -> tensor<1x2x2x8xf32>
// CHECK: %[[S:.*]] = cv.chip.mxm_matmul %[[QG]], %[[KT]] : (tensor<1x2x2x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32>
// A decode step's query sees every cached position: no mask is added.
// CHECK-NOT: attention.causal_mask
// CHECK: %[[SV:.*]] = cv.chip.view %[[S]] : tensor<1x2x2x16xf32> -> tensor<1x4x1x16xf32>
// CHECK: %[[P:.*]] = cv.chip.vxm_softmax %[[SV]] {axis = 3 : i64}
// CHECK: %[[PG:.*]] = cv.chip.view %[[P]] : tensor<1x4x1x16xf32> -> tensor<1x2x2x16xf32>
// CHECK: %[[O:.*]] = cv.chip.mxm_matmul %[[PG]], %[[VA]] : (tensor<1x2x2x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x2x8xf32>
// CHECK: cv.chip.view %[[O]] : tensor<1x2x2x8xf32> -> tensor<1x4x1x8xf32>
module {
  func.func @resident(%q: tensor<1x4x1x8xf32> {cv.name = "q"}, %k: tensor<1x2x1x8xf32> {cv.name = "k"}, %v: tensor<1x2x1x8xf32> {cv.name = "v"}) -> (tensor<1x4x1x8xf32> {cv.name = "out"}) {
    %pk = cv.graph.constant {name = "past_key_values.{layer}.key"} dense_resource<shape_only> : tensor<1x2x15x8xf32> : tensor<1x2x15x8xf32>
    %pv = cv.graph.constant {name = "past_key_values.{layer}.value"} dense_resource<shape_only> : tensor<1x2x15x8xf32> : tensor<1x2x15x8xf32>
    %ck = cv.graph.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x15x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
    %cv = cv.graph.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x15x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
    %a = cv.graph.attention %q, %ck, %cv {scale = 0.25 : f64, causal = true} : (tensor<1x4x1x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x4x1x8xf32>
    return %a : tensor<1x4x1x8xf32>
  }
}

// -----

// The past is a model input and the present a model output (single-chip KV interface): the
// cache is joined and K transposed as before, since the host reads the [b, kv, T, d] present.
// CHECK-LABEL: func.func @host_cache
// CHECK-NOT: cv.chip.kv_append
// CHECK: %[[KJ:.*]] = cv.chip.mem_concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<1x2x15x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
// CHECK: cv.chip.sxm_transpose %[[KJ]], [0, 1, 3, 2] : tensor<1x2x16x8xf32> -> tensor<1x2x8x16xf32>
module {
  func.func @host_cache(%q: tensor<1x4x1x8xf32> {cv.name = "q"}, %k: tensor<1x2x1x8xf32> {cv.name = "k"}, %v: tensor<1x2x1x8xf32> {cv.name = "v"},
                        %pk: tensor<1x2x15x8xf32> {cv.name = "past_key"}, %pv: tensor<1x2x15x8xf32> {cv.name = "past_value"})
      -> (tensor<1x4x1x8xf32> {cv.name = "out"}, tensor<1x2x16x8xf32> {cv.name = "present_key"}) {
    %ck = cv.graph.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x15x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
    %cv = cv.graph.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x15x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x16x8xf32>
    %a = cv.graph.attention %q, %ck, %cv {scale = 0.25 : f64, causal = true} : (tensor<1x4x1x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x4x1x8xf32>
    return %a, %ck : tensor<1x4x1x8xf32>, tensor<1x2x16x8xf32>
  }
}
