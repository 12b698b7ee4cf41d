// Column blocks of a weight with data (conveyor-lower-collectives): each block's constant holds
// exactly its columns of the original, so the blocks' products are the original product's
// columns and the numerics do not change. Inputs/slow-install-8.yaml installs weights at
// 1 B/cycle with 1-cycle unit latencies, so the 128 bytes of a [4, 8] f32 weight make 2 blocks
// pay off at tp 2.
// RUN: conveyor-opt %s --conveyor-lower-collectives="system=%S/Inputs/slow-install-8.yaml weights=f32" \
// RUN:   | FileCheck %s --implicit-check-not=cv.graph.all_reduce

module attributes {cv.partition.stages = 1 : i64, cv.partition.tp = 2 : i64} {
  func.func @stage0(%x: tensor<1x1x4xf16>, %residual: tensor<1x1x8xf16>) -> tensor<1x1x8xf16>
      attributes {cv.partition.stages = array<i64: 0>, cv.partition.tp = 2 : i64} {
    %w = cv.graph.constant {name = "o.weight"} dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                                                      [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0],
                                                      [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0],
                                                      [30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0]]> : tensor<4x8xf16>  : tensor<4x8xf16>
    %o = cv.graph.matmul %x, %w : (tensor<1x1x4xf16>, tensor<4x8xf16>) -> tensor<1x1x8xf16>
    %r = cv.graph.all_reduce %o {group_size = 2 : i64} : tensor<1x1x8xf16>
    %h = cv.graph.add %r, %residual : (tensor<1x1x8xf16>, tensor<1x1x8xf16>) -> tensor<1x1x8xf16>
    return %h : tensor<1x1x8xf16>
  }
}

// CHECK: %[[RES:.*]]:2 = cv.graph.split %arg1 {axis = 2 : i64, sizes = array<i64: 4, 4>}
// CHECK: %[[W0:.*]] = cv.graph.constant {name = "o.weight.cols0"} dense<{{\[}}[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00], [1.000000e+01, 1.100000e+01, 1.200000e+01, 1.300000e+01], [2.000000e+01, 2.100000e+01, 2.200000e+01, 2.300000e+01], [3.000000e+01, 3.100000e+01, 3.200000e+01, 3.300000e+01]]> : tensor<4x4xf16>
// CHECK-NEXT: %[[B0:.*]] = cv.graph.matmul %arg0, %[[W0]]
// CHECK-NEXT: cv.chip.c2c_send %[[B0]]
// CHECK-NEXT: %[[W1:.*]] = cv.graph.constant {name = "o.weight.cols1"} dense<{{\[}}[4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00], [1.400000e+01, 1.500000e+01, 1.600000e+01, 1.700000e+01], [2.400000e+01, 2.500000e+01, 2.600000e+01, 2.700000e+01], [3.400000e+01, 3.500000e+01, 3.600000e+01, 3.700000e+01]]> : tensor<4x4xf16>
// CHECK-NEXT: %[[B1:.*]] = cv.graph.matmul %arg0, %[[W1]]
// CHECK-NEXT: cv.chip.c2c_send %[[B1]]
// CHECK-NEXT: %[[R0:.*]] = cv.chip.c2c_recv
// CHECK-NEXT: %[[P0:.*]] = cv.graph.add %[[B0]], %[[R0]]
// CHECK-NEXT: %[[S0:.*]] = cv.graph.add %[[P0]], %[[RES]]#0
// CHECK-NEXT: %[[R1:.*]] = cv.chip.c2c_recv
// CHECK-NEXT: %[[P1:.*]] = cv.graph.add %[[B1]], %[[R1]]
// CHECK-NEXT: %[[S1:.*]] = cv.graph.add %[[P1]], %[[RES]]#1
// CHECK-NEXT: %[[H:.*]] = cv.graph.concat %[[S0]], %[[S1]] {axis = 2 : i64}
// CHECK-NEXT: return %[[H]]
