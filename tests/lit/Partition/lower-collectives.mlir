// conveyor-lower-collectives on the toy decoder of partition-toy.mlir (tp=2, 2 stages on
// groq-8: chips 0,1 | 2,3, one fully connected node). Each all-reduce becomes one send to
// and one receive from the other rank (port = the peer's position in the node, skipping
// the chip itself) and an add; the residual goes from chip 0 to chip 2 (port 1, 1 hop).
// 8 fp16 = 16 B take 1 cycle of a 16.67 B/cycle link.
// RUN: conveyor-opt %S/partition-toy.mlir --conveyor-partition="tp=2 stages=2" \
// RUN:   --conveyor-lower-collectives="system=%models/../systems/groq-8.yaml" | FileCheck %s
// RUN: not conveyor-opt %S/partition-toy.mlir --conveyor-lower-collectives="system=%models/../systems/groq-8.yaml" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=UNPARTITIONED

// CHECK-LABEL: func.func @stage0(
// CHECK: %[[EMB:.*]] = cv.graph.embedding
// CHECK-NEXT: cv.chip.c2c_send %[[EMB]] {group = "tp", hops = 1 : i64, link = 0 : i64, peer_offset = 1 : i64, slot_cycles = 1 : i64, tag = [[TAG:[0-9]+]] : i64} : tensor<1x1x8xf32>
// CHECK-NEXT: %[[IN:.*]] = cv.chip.c2c_recv {group = "tp", hops = 1 : i64, link = 0 : i64, peer_offset = 1 : i64, tag = [[TAG]] : i64} : tensor<1x1x8xf32>
// CHECK-NEXT: %[[SUM:.*]] = cv.graph.add %[[EMB]], %[[IN]]
// CHECK: cv.graph.repeat 1(%[[SUM]])
// CHECK-COUNT-2: cv.chip.c2c_recv {group = "tp"
// CHECK: cv.graph.yield
// CHECK: cv.chip.c2c_send %{{.*}}#0 {group = "pipeline", hops = 1 : i64, link = 1 : i64, peer_offset = 1 : i64, slot_cycles = 1 : i64, tag = 0 : i64}
// CHECK-LABEL: func.func @stage1(
// CHECK: cv.chip.c2c_recv {group = "pipeline", hops = 1 : i64, link = 0 : i64, peer_offset = -1 : i64, tag = 0 : i64} : tensor<1x1x8xf32>
// Chip 2's port toward chip 3 is 2 (ports 0, 1 lead to chips 0, 1).
// CHECK: cv.chip.c2c_send %{{.*}} {group = "tp", hops = 1 : i64, link = 2 : i64, peer_offset = 1 : i64
// CHECK-NOT: cv.graph.all_reduce
// The logits' all-gather: chip 2 sends its 8-logit shard to rank + 1 (chip 3, port 2) and
// receives rank + 1's, then concatenates own shard first (rank 0 holds chip order).
// CHECK: %[[L:.*]] = cv.graph.lm_head
// CHECK-NEXT: cv.chip.c2c_send %[[L]] {group = "tp", hops = 1 : i64, link = 2 : i64, peer_offset = 1 : i64, slot_cycles = 1 : i64, tag = [[GTAG:[0-9]+]] : i64} : tensor<1x1x8xf32>
// CHECK-NEXT: %[[PEER:.*]] = cv.chip.c2c_recv {group = "tp", hops = 1 : i64, link = 2 : i64, peer_offset = 1 : i64, tag = [[GTAG]] : i64} : tensor<1x1x8xf32>
// CHECK-NEXT: cv.graph.concat %[[L]], %[[PEER]] {axis = 2 : i64} : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x16xf32>
// CHECK-NOT: cv.graph.all_gather

// UNPARTITIONED: error: has no cv.partition.stages / cv.partition.tp; run conveyor-partition first
