// conveyor-partition on a 2-layer llama-like decode graph (hidden 8, 2 heads of 4, ffn 16,
// vocab 16, past 3): tp=2 x 2 stages gives a first and a last template, each one layer
// body repeated once, Megatron splits and the collectives they need; tp=1 x 1 stage gives
// one template repeating the layer twice, with no collectives.
// RUN: conveyor-opt %s --conveyor-partition="tp=2 stages=2" | FileCheck %s
// RUN: conveyor-opt %s --conveyor-partition="tp=1 stages=1" | FileCheck %s --check-prefix=SINGLE
// RUN: conveyor-opt %s --conveyor-partition="tp=2 stages=1" | FileCheck %s --check-prefix=TP2

// CHECK: module attributes {cv.partition.blocks_per_layer = 2 : i64, cv.partition.layers = 2 : i64, cv.partition.stages = 2 : i64, cv.partition.tp = 2 : i64}
// CHECK-LABEL: func.func @stage0(
// CHECK-SAME: tensor<1x1xi64> {cv.name = "input_ids"}
// CHECK-SAME: tensor<1x1x3x4xf32> {cv.name = "past_key_values.{layer}.key", cv.partition.per_layer, cv.shard = array<i64: 1, 2>}
// CHECK-SAME: -> (tensor<1x1x4x4xf32> {cv.name = "present.{layer}.key", cv.partition.per_layer, cv.shard = array<i64: 1, 2>}
// CHECK-SAME: cv.partition.chips = array<i64: 0, 1>, cv.partition.first_layers = array<i64: 0>, cv.partition.repeat = 1 : i64, cv.partition.role = "first", cv.partition.stages = array<i64: 0>, cv.partition.tp = 2 : i64
// Embedding split by vocabulary rows, then summed.
// CHECK: cv.graph.weight {name = "model.embed_tokens.weight", shard = array<i64: 0, 2>} : tensor<8x8xf32>
// CHECK: %[[EMB:.*]] = cv.graph.embedding
// CHECK: %[[X:.*]] = cv.graph.all_reduce %[[EMB]] {group_size = 2 : i64} : tensor<1x1x8xf32>
// CHECK: cv.graph.repeat 1(%[[X]]) : (tensor<1x1x8xf32>) -> (tensor<1x1x8xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>)
// q/k/v column-split by heads: one head of 4 columns per rank.
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.q.weight", shard = array<i64: 1, 2>} : tensor<8x4xf32>
// CHECK: cv.graph.reshape %{{.*}} : tensor<1x1x4xf32> -> tensor<1x1x1x4xf32>
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.k.weight", shard = array<i64: 1, 2>} : tensor<8x4xf32>
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.v.weight", shard = array<i64: 1, 2>} : tensor<8x4xf32>
// Attention by heads, no communication.
// CHECK-NOT: cv.graph.all_
// CHECK: cv.graph.concat %{{.*}} {axis = 2 : i64} : (tensor<1x1x3x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x1x4x4xf32>
// CHECK: cv.graph.softmax %{{.*}} : tensor<1x1x1x4xf32>
// o-projection row-split + all_reduce.
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.o.weight", shard = array<i64: 0, 2>} : tensor<4x8xf32>
// CHECK-NEXT: %[[O:.*]] = cv.graph.matmul %{{.*}} : (tensor<1x1x4xf32>, tensor<4x8xf32>) -> tensor<1x1x8xf32>
// CHECK-NEXT: cv.graph.all_reduce %[[O]] {group_size = 2 : i64} : tensor<1x1x8xf32>
// Norm weights stay whole; gate/up column-split, down row-split + all_reduce.
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.post_norm.weight"} : tensor<8xf32>
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.gate.weight", shard = array<i64: 1, 2>} : tensor<8x8xf32>
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.up.weight", shard = array<i64: 1, 2>} : tensor<8x8xf32>
// CHECK: cv.graph.weight {cv.partition.per_layer, name = "model.layers.{layer}.down.weight", shard = array<i64: 0, 2>} : tensor<8x8xf32>
// CHECK-NEXT: %[[MLP:.*]] = cv.graph.gated_mlp
// CHECK-NEXT: cv.graph.all_reduce %[[MLP]] {group_size = 2 : i64}
// CHECK-NOT: cv.graph.all_
// CHECK: cv.graph.yield
// CHECK: cv.graph.send %{{.*}}#0 {stage_offset = 1 : i64, tag = 0 : i64} : tensor<1x1x8xf32>
// CHECK-NOT: cv.graph.lm_head
// CHECK-LABEL: func.func @stage1(
// CHECK-NOT: input_ids
// CHECK-SAME: -> (tensor<1x1x16xf32> {cv.name = "logits"}
// CHECK-SAME: cv.partition.chips = array<i64: 2, 3>, cv.partition.first_layers = array<i64: 1>, cv.partition.repeat = 1 : i64, cv.partition.role = "last", cv.partition.stages = array<i64: 1>
// CHECK: %[[IN:.*]] = cv.graph.recv {stage_offset = -1 : i64, tag = 0 : i64} : tensor<1x1x8xf32>
// CHECK: %[[R:.*]]:3 = cv.graph.repeat 1(%[[IN]])
// CHECK-COUNT-2: cv.graph.all_reduce
// CHECK-NOT: cv.graph.all_
// CHECK: cv.graph.yield
// LM head split by vocabulary columns, logits gathered.
// CHECK: cv.graph.rms_norm %[[R]]#0
// CHECK: cv.graph.weight {name = "lm_head.weight", shard = array<i64: 1, 2>} : tensor<8x8xf32>
// CHECK: %[[L:.*]] = cv.graph.lm_head
// CHECK: %[[G:.*]] = cv.graph.all_gather %[[L]] {axis = 2 : i64, group_size = 2 : i64, parts = 2 : i64} : tensor<1x1x8xf32> -> tensor<1x1x16xf32>
// CHECK: return %[[G]], %[[R]]#1, %[[R]]#2
// CHECK-NOT: func.func

// SINGLE: func.func @stage0(
// SINGLE-SAME: tensor<1x2x3x4xf32> {cv.name = "past_key_values.{layer}.key", cv.partition.per_layer}
// SINGLE-SAME: cv.partition.chips = array<i64: 0>, cv.partition.first_layers = array<i64: 0>, cv.partition.repeat = 2 : i64, cv.partition.role = "only"
// SINGLE-NOT: cv.graph.all_
// SINGLE: cv.graph.repeat 2(
// SINGLE-COUNT-2: cv.graph.rms_norm
// SINGLE-NOT: cv.graph.rms_norm
// SINGLE: cv.graph.yield
// SINGLE: cv.graph.lm_head
// SINGLE-NOT: func.func

// TP2: func.func @stage0(
// TP2-SAME: cv.partition.repeat = 2 : i64, cv.partition.role = "only"
// TP2-COUNT-3: cv.graph.all_reduce
// TP2-NOT: cv.graph.all_reduce
// TP2: cv.graph.all_gather
// TP2-NOT: cv.graph.all_
// TP2-NOT: func.func

module {
  func.func @main(%ids: tensor<1x1xi64> {cv.name = "input_ids"}, %past_k0: tensor<1x2x3x4xf32> {cv.name = "past_key_values.0.key"}, %past_v0: tensor<1x2x3x4xf32> {cv.name = "past_key_values.0.value"}, %past_k1: tensor<1x2x3x4xf32> {cv.name = "past_key_values.1.key"}, %past_v1: tensor<1x2x3x4xf32> {cv.name = "past_key_values.1.value"}) -> (tensor<1x1x16xf32> {cv.name = "logits"}, tensor<1x2x4x4xf32> {cv.name = "present.0.key"}, tensor<1x2x4x4xf32> {cv.name = "present.0.value"}, tensor<1x2x4x4xf32> {cv.name = "present.1.key"}, tensor<1x2x4x4xf32> {cv.name = "present.1.value"}) {
    %table = cv.graph.weight {name = "model.embed_tokens.weight"} : tensor<16x8xf32>
    %scale = cv.graph.constant {name = "scale"} dense<5.000000e-01> : tensor<f32> : tensor<f32>
    %x = cv.graph.embedding %table, %ids : (tensor<16x8xf32>, tensor<1x1xi64>) -> tensor<1x1x8xf32>
    %l0_input_norm = cv.graph.weight {name = "model.layers.0.input_norm.weight"} : tensor<8xf32>
    %l0_q = cv.graph.weight {name = "model.layers.0.q.weight"} : tensor<8x8xf32>
    %l0_k = cv.graph.weight {name = "model.layers.0.k.weight"} : tensor<8x8xf32>
    %l0_v = cv.graph.weight {name = "model.layers.0.v.weight"} : tensor<8x8xf32>
    %l0_o = cv.graph.weight {name = "model.layers.0.o.weight"} : tensor<8x8xf32>
    %l0_post_norm = cv.graph.weight {name = "model.layers.0.post_norm.weight"} : tensor<8xf32>
    %l0_gate = cv.graph.weight {name = "model.layers.0.gate.weight"} : tensor<8x16xf32>
    %l0_up = cv.graph.weight {name = "model.layers.0.up.weight"} : tensor<8x16xf32>
    %l0_down = cv.graph.weight {name = "model.layers.0.down.weight"} : tensor<16x8xf32>
    %l0_n1 = cv.graph.rms_norm %x, %l0_input_norm : (tensor<1x1x8xf32>, tensor<8xf32>) -> tensor<1x1x8xf32>
    %l0_qm = cv.graph.matmul %l0_n1, %l0_q : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l0_qr = cv.graph.reshape %l0_qm : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l0_qt = cv.graph.transpose %l0_qr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l0_km = cv.graph.matmul %l0_n1, %l0_k : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l0_kr = cv.graph.reshape %l0_km : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l0_kt = cv.graph.transpose %l0_kr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l0_vm = cv.graph.matmul %l0_n1, %l0_v : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l0_vr = cv.graph.reshape %l0_vm : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l0_vt = cv.graph.transpose %l0_vr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l0_kc = cv.graph.concat %past_k0, %l0_kt {axis = 2 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x4x4xf32>
    %l0_vc = cv.graph.concat %past_v0, %l0_vt {axis = 2 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x4x4xf32>
    %l0_kT = cv.graph.transpose %l0_kc, [0, 1, 3, 2] : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
    %l0_s = cv.graph.matmul %l0_qt, %l0_kT : (tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x1x4xf32>
    %l0_ss = cv.graph.mul %l0_s, %scale : (tensor<1x2x1x4xf32>, tensor<f32>) -> tensor<1x2x1x4xf32>
    %l0_p = cv.graph.softmax %l0_ss : tensor<1x2x1x4xf32>
    %l0_c = cv.graph.matmul %l0_p, %l0_vc : (tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x1x4xf32>
    %l0_ct = cv.graph.transpose %l0_c, [0, 2, 1, 3] : tensor<1x2x1x4xf32> -> tensor<1x1x2x4xf32>
    %l0_cr = cv.graph.reshape %l0_ct : tensor<1x1x2x4xf32> -> tensor<1x1x8xf32>
    %l0_om = cv.graph.matmul %l0_cr, %l0_o : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l0_h = cv.graph.add %x, %l0_om : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
    %l0_n2 = cv.graph.rms_norm %l0_h, %l0_post_norm : (tensor<1x1x8xf32>, tensor<8xf32>) -> tensor<1x1x8xf32>
    %l0_mlp = cv.graph.gated_mlp %l0_n2, %l0_gate, %l0_up, %l0_down {activation = "silu"} : (tensor<1x1x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x1x8xf32>
    %l0_y = cv.graph.add %l0_h, %l0_mlp : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
    %l1_input_norm = cv.graph.weight {name = "model.layers.1.input_norm.weight"} : tensor<8xf32>
    %l1_q = cv.graph.weight {name = "model.layers.1.q.weight"} : tensor<8x8xf32>
    %l1_k = cv.graph.weight {name = "model.layers.1.k.weight"} : tensor<8x8xf32>
    %l1_v = cv.graph.weight {name = "model.layers.1.v.weight"} : tensor<8x8xf32>
    %l1_o = cv.graph.weight {name = "model.layers.1.o.weight"} : tensor<8x8xf32>
    %l1_post_norm = cv.graph.weight {name = "model.layers.1.post_norm.weight"} : tensor<8xf32>
    %l1_gate = cv.graph.weight {name = "model.layers.1.gate.weight"} : tensor<8x16xf32>
    %l1_up = cv.graph.weight {name = "model.layers.1.up.weight"} : tensor<8x16xf32>
    %l1_down = cv.graph.weight {name = "model.layers.1.down.weight"} : tensor<16x8xf32>
    %l1_n1 = cv.graph.rms_norm %l0_y, %l1_input_norm : (tensor<1x1x8xf32>, tensor<8xf32>) -> tensor<1x1x8xf32>
    %l1_qm = cv.graph.matmul %l1_n1, %l1_q : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l1_qr = cv.graph.reshape %l1_qm : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l1_qt = cv.graph.transpose %l1_qr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l1_km = cv.graph.matmul %l1_n1, %l1_k : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l1_kr = cv.graph.reshape %l1_km : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l1_kt = cv.graph.transpose %l1_kr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l1_vm = cv.graph.matmul %l1_n1, %l1_v : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l1_vr = cv.graph.reshape %l1_vm : tensor<1x1x8xf32> -> tensor<1x1x2x4xf32>
    %l1_vt = cv.graph.transpose %l1_vr, [0, 2, 1, 3] : tensor<1x1x2x4xf32> -> tensor<1x2x1x4xf32>
    %l1_kc = cv.graph.concat %past_k1, %l1_kt {axis = 2 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x4x4xf32>
    %l1_vc = cv.graph.concat %past_v1, %l1_vt {axis = 2 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x4x4xf32>
    %l1_kT = cv.graph.transpose %l1_kc, [0, 1, 3, 2] : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
    %l1_s = cv.graph.matmul %l1_qt, %l1_kT : (tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x1x4xf32>
    %l1_ss = cv.graph.mul %l1_s, %scale : (tensor<1x2x1x4xf32>, tensor<f32>) -> tensor<1x2x1x4xf32>
    %l1_p = cv.graph.softmax %l1_ss : tensor<1x2x1x4xf32>
    %l1_c = cv.graph.matmul %l1_p, %l1_vc : (tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x1x4xf32>
    %l1_ct = cv.graph.transpose %l1_c, [0, 2, 1, 3] : tensor<1x2x1x4xf32> -> tensor<1x1x2x4xf32>
    %l1_cr = cv.graph.reshape %l1_ct : tensor<1x1x2x4xf32> -> tensor<1x1x8xf32>
    %l1_om = cv.graph.matmul %l1_cr, %l1_o : (tensor<1x1x8xf32>, tensor<8x8xf32>) -> tensor<1x1x8xf32>
    %l1_h = cv.graph.add %l0_y, %l1_om : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
    %l1_n2 = cv.graph.rms_norm %l1_h, %l1_post_norm : (tensor<1x1x8xf32>, tensor<8xf32>) -> tensor<1x1x8xf32>
    %l1_mlp = cv.graph.gated_mlp %l1_n2, %l1_gate, %l1_up, %l1_down {activation = "silu"} : (tensor<1x1x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x1x8xf32>
    %l1_y = cv.graph.add %l1_h, %l1_mlp : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
    %final_w = cv.graph.weight {name = "model.norm.weight"} : tensor<8xf32>
    %head_w = cv.graph.weight {name = "lm_head.weight"} : tensor<8x16xf32>
    %final = cv.graph.rms_norm %l1_y, %final_w : (tensor<1x1x8xf32>, tensor<8xf32>) -> tensor<1x1x8xf32>
    %logits = cv.graph.lm_head %final, %head_w : (tensor<1x1x8xf32>, tensor<8x16xf32>) -> tensor<1x1x16xf32>
    return %logits, %l0_kc, %l0_vc, %l1_kc, %l1_vc : tensor<1x1x16xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
  }
}
