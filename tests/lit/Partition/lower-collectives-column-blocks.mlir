// conveyor-lower-collectives cuts an all-reduce of a row-parallel matmul into column blocks
// (issue 5). tp 8 on groq-64, int8 weights: a decode o-projection [1, 512] x [512, 4096]
// (2 MiB of weights, 205 cycles of install) sends its whole [1, 4096] partial in one
// 492-cycle slot per peer after the whole matmul; in 4 blocks of 1024 columns each quarter
// leaves as soon as its 51-cycle install is done, in 123-cycle slots, so the links work
// while the MXM computes the next block. Each block is summed with the peers' quarters and
// its quarter of the residual (the add that used the all-reduce), and a concat joins them.
// A gated MLP is unfused so that its down-projection can be blocked the same way. The
// block count depends on the weight, not the step, so a prefill partial of the same weight
// takes the same blocks into its reduce-scatter (2 of its 8 chunks per block).
// RUN: conveyor-opt %s --conveyor-lower-collectives="system=%models/../systems/groq-64.yaml weights=int8" \
// RUN:   | FileCheck %s --implicit-check-not=cv.graph.all_reduce
// RUN: conveyor-opt %s --conveyor-lower-collectives="system=%models/../systems/groq-64.yaml weights=int8 max-column-blocks=1" \
// RUN:   | FileCheck %s --check-prefix=WHOLE --implicit-check-not=cv.graph.all_reduce

module attributes {cv.partition.stages = 1 : i64, cv.partition.tp = 8 : i64} {
  func.func @stage0(%attn: tensor<1x1x512xf16>, %residual: tensor<1x1x4096xf16>,
                    %prompt: tensor<1x16x512xf16>)
      -> (tensor<1x1x4096xf16>, tensor<1x16x4096xf16>)
      attributes {cv.partition.stages = array<i64: 0>, cv.partition.tp = 8 : i64} {
    %wo = cv.graph.weight {cv.partition.per_layer, name = "o.weight", shard = array<i64: 0, 8>} : tensor<512x4096xf16>
    %o = cv.graph.matmul %attn, %wo : (tensor<1x1x512xf16>, tensor<512x4096xf16>) -> tensor<1x1x4096xf16>
    %r = cv.graph.all_reduce %o {group_size = 8 : i64} : tensor<1x1x4096xf16>
    %h = cv.graph.add %residual, %r : (tensor<1x1x4096xf16>, tensor<1x1x4096xf16>) -> tensor<1x1x4096xf16>
    %wg = cv.graph.weight {name = "gate.weight"} : tensor<4096x1376xf16>
    %wu = cv.graph.weight {name = "up.weight"} : tensor<4096x1376xf16>
    %wd = cv.graph.weight {name = "down.weight"} : tensor<1376x4096xf16>
    %m = cv.graph.gated_mlp %h, %wg, %wu, %wd {activation = "silu"} : (tensor<1x1x4096xf16>, tensor<4096x1376xf16>, tensor<4096x1376xf16>, tensor<1376x4096xf16>) -> tensor<1x1x4096xf16>
    %s = cv.graph.all_reduce %m {group_size = 8 : i64} : tensor<1x1x4096xf16>
    %out = cv.graph.add %h, %s : (tensor<1x1x4096xf16>, tensor<1x1x4096xf16>) -> tensor<1x1x4096xf16>
    %wp = cv.graph.weight {name = "o.weight"} : tensor<512x4096xf16>
    %p = cv.graph.matmul %prompt, %wp : (tensor<1x16x512xf16>, tensor<512x4096xf16>) -> tensor<1x16x4096xf16>
    %pr = cv.graph.all_reduce %p {group_size = 8 : i64} : tensor<1x16x4096xf16>
    return %out, %pr : tensor<1x1x4096xf16>, tensor<1x16x4096xf16>
  }
}

// The residual, cut where it is defined (off the critical path).
// CHECK: %[[RES:.*]]:4 = cv.graph.split %arg1 {axis = 2 : i64, sizes = array<i64: 1024, 1024, 1024, 1024>}
// Block 0: its own weight (the shard's columns 0..1023, attributes kept), then its sends.
// CHECK-NEXT: %[[W0:.*]] = cv.graph.weight {cv.partition.per_layer, name = "o.weight.cols0", shard = array<i64: 0, 8>} : tensor<512x1024xf16>
// CHECK-NEXT: %[[B0:.*]] = cv.graph.matmul %arg0, %[[W0]] : (tensor<1x1x512xf16>, tensor<512x1024xf16>) -> tensor<1x1x1024xf16>
// CHECK-NEXT: cv.chip.c2c_send %[[B0]] {group = "tp", hops = 1 : i64, link = 0 : i64, peer_offset = 1 : i64, slot_cycles = 123 : i64, tag = [[T0:[0-9]+]] : i64} : tensor<1x1x1024xf16>
// CHECK-COUNT-6: cv.chip.c2c_send %[[B0]] {{.*}}slot_cycles = 123
// CHECK-NEXT: cv.graph.weight {cv.partition.per_layer, name = "o.weight.cols1"
// CHECK-NEXT: %[[B1:.*]] = cv.graph.matmul %arg0
// CHECK-COUNT-7: cv.chip.c2c_send %[[B1]]
// CHECK: name = "o.weight.cols3"
// Block 0's sum: the 7 peers' quarters, then the residual's quarter.
// CHECK: %[[R0:.*]] = cv.chip.c2c_recv {group = "tp", hops = 1 : i64, link = 6 : i64, peer_offset = 7 : i64, tag = [[T0]] : i64} : tensor<1x1x1024xf16>
// CHECK-NEXT: cv.graph.add %[[B0]], %[[R0]]
// CHECK-COUNT-6: cv.graph.add
// CHECK-NEXT: %[[S0:.*]] = cv.graph.add %{{.*}}, %[[RES]]#0
// CHECK: %[[H:.*]] = cv.graph.concat %[[S0]], %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64} : {{.*}} -> tensor<1x1x4096xf16>
// The gated MLP, unfused; its down-projection in 4 blocks.
// CHECK-NEXT: cv.graph.split %[[H]] {axis = 2 : i64, sizes = array<i64: 1024, 1024, 1024, 1024>}
// CHECK: %[[GATE:.*]] = cv.graph.matmul %[[H]], %{{.*}} -> tensor<1x1x1376xf16>
// CHECK-NEXT: %[[ACT:.*]] = cv.graph.silu %[[GATE]]
// CHECK-NEXT: %[[UP:.*]] = cv.graph.matmul %[[H]]
// CHECK-NEXT: %[[HIDDEN:.*]] = cv.graph.mul %[[ACT]], %[[UP]]
// CHECK-NEXT: cv.graph.weight {name = "down.weight.cols0"} : tensor<1376x1024xf16>
// CHECK-NEXT: cv.graph.matmul %[[HIDDEN]]
// CHECK-NOT: cv.graph.gated_mlp
// CHECK: %[[OUT:.*]] = cv.graph.concat {{.*}} -> tensor<1x1x4096xf16>
// The prompt's partial: the same 4 blocks of "o.weight", each cut into 2 reduce-scatter chunks.
// CHECK: name = "o.weight.cols0"
// CHECK: name = "o.weight.cols3"
// CHECK-NEXT: %[[P3:.*]] = cv.graph.matmul %arg2
// CHECK-NEXT: cv.graph.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 512, 512>}
// CHECK-COUNT-3: cv.graph.split
// CHECK: slot_cycles = 984
// CHECK: return %[[OUT]], %{{.*}} : tensor<1x1x4096xf16>, tensor<1x16x4096xf16>

// max-column-blocks=1 keeps every product whole.
// WHOLE-NOT: cols
// WHOLE: cv.graph.matmul %arg0, %{{.*}} : (tensor<1x1x512xf16>, tensor<512x4096xf16>) -> tensor<1x1x4096xf16>
// WHOLE: slot_cycles = 492
// WHOLE: cv.graph.gated_mlp
// WHOLE: cv.graph.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 512, 512, 512, 512, 512, 512, 512, 512>}
