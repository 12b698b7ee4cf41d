// conveyor-lower-collectives picks each all-reduce's form by the compiler's own cost (issue 5).
// tp 8 on groq-64 (one node of 8, 16.67 B/cycle links). A prefill-sized partial
// [1, 128, 4096] fp16 (1 MiB, 62,915 cycles on a link) is bandwidth-bound: reduce-scatter (the
// last axis cut into 8 rank-relative chunks, chunk k to rank + k, 7,865-cycle slots, the
// received chunks added to chunk 0) then all-gather (the sum to every peer, a balanced tree
// of concats in peer-offset order). A decode-sized [1, 1, 4096] partial (8 KiB) stays a direct
// exchange: 7 sends of the whole partial (492-cycle slots) and a chain of adds.
// RUN: conveyor-opt %s --conveyor-lower-collectives="system=%models/../systems/groq-64.yaml" \
// RUN:   | FileCheck %s --implicit-check-not=cv.graph.all_reduce

module attributes {cv.partition.stages = 1 : i64, cv.partition.tp = 8 : i64} {
  func.func @stage0(%prefill: tensor<1x128x4096xf16>, %decode: tensor<1x1x4096xf16>)
      -> (tensor<1x128x4096xf16>, tensor<1x1x4096xf16>)
      attributes {cv.partition.stages = array<i64: 0>, cv.partition.tp = 8 : i64} {
    %0 = cv.graph.all_reduce %prefill {group_size = 8 : i64} : tensor<1x128x4096xf16>
    %1 = cv.graph.all_reduce %decode {group_size = 8 : i64} : tensor<1x1x4096xf16>
    return %0, %1 : tensor<1x128x4096xf16>, tensor<1x1x4096xf16>
  }
}

// CHECK: %[[CHUNKS:.*]]:8 = cv.graph.split %arg0 {axis = 2 : i64, sizes = array<i64: 512, 512, 512, 512, 512, 512, 512, 512>}
// CHECK-NEXT: cv.chip.c2c_send %[[CHUNKS]]#1 {group = "tp", hops = 1 : i64, link = 0 : i64, peer_offset = 1 : i64, slot_cycles = 7865 : i64, tag = [[RS:[0-9]+]] : i64} : tensor<1x128x512xf16>
// CHECK-COUNT-6: cv.chip.c2c_send %[[CHUNKS]]#{{[2-7]}} {{.*}}slot_cycles = 7865
// Rank r - 1 sent its chunk 1 with the first tag: it is this rank's chunk 0.
// CHECK-NEXT: %[[R1:.*]] = cv.chip.c2c_recv {group = "tp", hops = 1 : i64, link = 6 : i64, peer_offset = 7 : i64, tag = [[RS]] : i64} : tensor<1x128x512xf16>
// CHECK-NEXT: cv.graph.add %[[CHUNKS]]#0, %[[R1]]
// CHECK-COUNT-5: cv.graph.add
// CHECK: %[[SUM:.*]] = cv.graph.add
// CHECK-COUNT-7: cv.chip.c2c_send %[[SUM]] {{.*}}slot_cycles = 7865
// CHECK-COUNT-7: cv.chip.c2c_recv {{.*}} : tensor<1x128x512xf16>
// CHECK-NEXT: cv.graph.concat %[[SUM]], %{{.*}} -> tensor<1x128x1024xf16>
// CHECK-COUNT-3: cv.graph.concat
// CHECK-COUNT-2: -> tensor<1x128x2048xf16>
// CHECK-NEXT: %[[GATHERED:.*]] = cv.graph.concat {{.*}} -> tensor<1x128x4096xf16>
// CHECK-NOT: cv.graph.split
// CHECK-COUNT-7: cv.chip.c2c_send %arg1 {{.*}}slot_cycles = 492 : i64{{.*}} : tensor<1x1x4096xf16>
// CHECK-NOT: cv.graph.concat
// CHECK: return %[[GATHERED]], %{{.*}} : tensor<1x128x4096xf16>, tensor<1x1x4096xf16>
