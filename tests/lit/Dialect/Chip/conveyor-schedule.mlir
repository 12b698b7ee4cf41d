// conveyor-schedule on groq-1 (systems/groq-1.yaml): every issue cycle below is worked out
// by hand from docs/timing-model.md with V = 320 B, clock 900 MHz, host 31.5 GB/s,
// Lhost = 900, Lmem = 69, Lmxm = 24, Lvxm = 16, Lsxm = 18, 16 ALUs per lane,
// weight install 10,240 B/cycle, 409,600 int8 / 102,400 fp16 MACs per cycle (f32 at fp16).
// RUN: conveyor-opt %s --conveyor-schedule=system=%S/../../../../systems/groq-1.yaml -split-input-file | FileCheck %s
// RUN: not conveyor-opt %s --conveyor-schedule -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSYSTEM

// NOSYSTEM: error: conveyor-schedule needs the system description: pass the option 'system=<path>'

// A dependence chain: each instruction waits for its operand.
//   mem_write x (2048 B): O = H(2048) = ceil(58.51) = 59, D = 900 + 59 = 959
//   matmul 8x64 x 64x32 f32: install ceil(8192 / 10240) = 1, compute ceil(16384 / 102400) = 1,
//     O = 2, D = 69 + 24 + 2 = 95; its one tile set (1 cycle of install) goes in before x must
//     be there: issues at 959 - 1 = 958, ready at 1053
//   add / gelu (1024 B = 4 vectors, 1 and 12 ops <= 16 ALUs: one pass): O = 4, D = 69 + 16 + 4 = 89
//   transpose: O = 4, D = 69 + 18 + 4 = 91; the view is ready when its source is (1322)
//   softmax: O = 3 * 4 = 12, D = 69 + 16 + 12 = 97
//   mem_read y (1024 B): O = H(1024) = ceil(29.26) = 30, D = 900 + 69 + 30 = 999
//   end = 1419 + 999 = 2418
// CHECK-LABEL: func.func @chain
// CHECK-SAME: cv.end_cycle = 2418 : i64
// CHECK: cv.chip.mem_write {{.*}} {issue = 0 : i64}
// CHECK: cv.chip.mxm_matmul {{.*}} {issue = 958 : i64}
// CHECK: cv.chip.vxm_binary "add" {{.*}} {issue = 1053 : i64}
// CHECK: cv.chip.vxm_unary "gelu" {{.*}} {issue = 1142 : i64}
// CHECK: cv.chip.sxm_transpose {{.*}} {issue = 1231 : i64}
// CHECK: cv.chip.view %{{[0-9]+}} : tensor<32x8xf32> -> tensor<8x32xf32>
// CHECK: cv.chip.vxm_softmax {{.*}} {axis = 1 : i64, issue = 1322 : i64}
// CHECK: cv.chip.mem_read {{.*}} {issue = 1419 : i64}
func.func @chain(%arg0: tensor<8x64xf32> {cv.name = "x"}) -> (tensor<8x32xf32> {cv.name = "y"}) {
  %w = cv.chip.weight "w" {value = dense<1.0> : tensor<64x32xf32>} : tensor<64x32xf32>
  %b = cv.chip.weight "b" {value = dense<0.5> : tensor<32xf32>} : tensor<32xf32>
  %x = cv.chip.mem_write %arg0, "x" : tensor<8x64xf32>
  %m = cv.chip.mxm_matmul %x, %w : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x32xf32>
  %a = cv.chip.vxm_binary "add" %m, %b : (tensor<8x32xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %g = cv.chip.vxm_unary "gelu" %a : tensor<8x32xf32>
  %t = cv.chip.sxm_transpose %g, [1, 0] : tensor<8x32xf32> -> tensor<32x8xf32>
  %v = cv.chip.view %t : tensor<32x8xf32> -> tensor<8x32xf32>
  %s = cv.chip.vxm_softmax %v {axis = 1 : i64} : tensor<8x32xf32>
  %r = cv.chip.mem_read %s, "y" : tensor<8x32xf32>
  return %r : tensor<8x32xf32>
}

// -----

// Units are busy for their occupancy: independent instructions on one unit queue up in
// program order, instructions on different units overlap. Stale issue cycles are replaced.
//   MEM: write a @0 (O 59, ready 959); write b @59 (ready 1018)
//   VXM: add w1,w2 @0 (O 4, ready 89); div @4 (2 ops, one pass: O 4, ready 93);
//        gelu_tanh(p) @89 (ready 178); mul q,r @178 (ready 267)
//   MEM: copy s @267 (O 4, D 69 + 4, ready 340); read o1 @340 (O 30, D 999, ends 1339)
//   MXM: x 8x64 @ view(b) 64x8 @1018 (install ceil(2048 / 10240) = 1, compute
//        ceil(4096 / 102400) = 1: D 95, ready 1113)
//   MEM: read o2 (256 B: O = ceil(7.31) = 8) @1113 (MEM free at 370), D 977, ends 2090
// CHECK-LABEL: func.func @contention
// CHECK-SAME: cv.end_cycle = 2090 : i64
// CHECK: cv.chip.mem_write %{{.*}}, "a" {issue = 0 : i64}
// CHECK: cv.chip.mem_write %{{.*}}, "b" {issue = 59 : i64}
// CHECK: cv.chip.vxm_binary "add" {{.*}} {issue = 0 : i64}
// CHECK: cv.chip.vxm_binary "div" {{.*}} {issue = 4 : i64}
// CHECK: cv.chip.vxm_unary "gelu_tanh" {{.*}} {issue = 89 : i64}
// CHECK: cv.chip.vxm_binary "mul" {{.*}} {issue = 178 : i64}
// CHECK: cv.chip.mem_copy {{.*}} {issue = 267 : i64}
// CHECK: cv.chip.mem_read %{{.*}}, "o1" {issue = 340 : i64}
// CHECK: cv.chip.mxm_matmul {{.*}} {issue = 1018 : i64}
// CHECK: cv.chip.mem_read %{{.*}}, "o2" {issue = 1113 : i64}
func.func @contention(%a: tensor<8x64xf32>, %b: tensor<8x64xf32>) -> (tensor<8x32xf32>, tensor<8x8xf32>) {
  %w1 = cv.chip.weight "w1" {value = dense<1.0> : tensor<8x32xf32>} : tensor<8x32xf32>
  %w2 = cv.chip.weight "w2" {value = dense<2.0> : tensor<8x32xf32>} : tensor<8x32xf32>
  %x = cv.chip.mem_write %a, "a" {issue = 7 : i64} : tensor<8x64xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<8x64xf32>
  %p = cv.chip.vxm_binary "add" %w1, %w2 : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
  %q = cv.chip.vxm_binary "div" %w1, %w2 : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
  %r = cv.chip.vxm_unary "gelu_tanh" %p : tensor<8x32xf32>
  %s = cv.chip.vxm_binary "mul" %q, %r : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
  %c = cv.chip.mem_copy %s : tensor<8x32xf32>
  %o1 = cv.chip.mem_read %c, "o1" : tensor<8x32xf32>
  %yv = cv.chip.view %y : tensor<8x64xf32> -> tensor<64x8xf32>
  %m = cv.chip.mxm_matmul %x, %yv : (tensor<8x64xf32>, tensor<64x8xf32>) -> tensor<8x8xf32>
  %o2 = cv.chip.mem_read %m, "o2" : tensor<8x8xf32>
  return %o1, %o2 : tensor<8x32xf32>, tensor<8x8xf32>
}

// -----

// int8 on the MXM at 409,600 MACs/cycle; weights install at 10,240 B/cycle.
//   mem_write x (320 B): O = ceil(9.14) = 10, D = 910
//   matmul [1,320] x [320,320] i8: install 102400 / 10240 = 10, compute ceil(102400 / 409600) = 1,
//     O = 11, D = 69 + 24 + 11 = 104: one tile set, installed before x must be there: issues
//     at 910 - 10 = 900, ready at 1004
//   batched f32 matmul [2,8,64] x [64,32]: B = 2, install ceil(16384 / 10240) = 2,
//     compute ceil(32768 / 102400) = 1, O = 3: weight ready at 0, MXM free at 911 -> issues at 911
//   mem_read y (i32 [1,320] = 1280 B): O = ceil(36.57) = 37, issues at 1004 (MEM free at 10),
//     D = 900 + 69 + 37 = 1006, ends 2010
// CHECK-LABEL: func.func @int8
// CHECK-SAME: cv.end_cycle = 2010 : i64
// CHECK: cv.chip.mem_write {{.*}} {issue = 0 : i64}
// CHECK: cv.chip.mxm_matmul {{.*}} {issue = 900 : i64} : (tensor<1x320xi8>, tensor<320x320xi8>) -> tensor<1x320xi32>
// CHECK: cv.chip.mxm_matmul {{.*}} {issue = 911 : i64} : (tensor<2x8x64xf32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
// CHECK: cv.chip.mem_read {{.*}} {issue = 1004 : i64}
func.func @int8(%arg0: tensor<1x320xi8>) -> tensor<1x320xi32> {
  %w = cv.chip.weight "w" {value = dense<1> : tensor<320x320xi8>} : tensor<320x320xi8>
  %x = cv.chip.mem_write %arg0, "x" : tensor<1x320xi8>
  %m = cv.chip.mxm_matmul %x, %w : (tensor<1x320xi8>, tensor<320x320xi8>) -> tensor<1x320xi32>
  %a = cv.chip.weight "a" {value = dense<1.0> : tensor<2x8x64xf32>} : tensor<2x8x64xf32>
  %f = cv.chip.weight "f" {value = dense<1.0> : tensor<64x32xf32>} : tensor<64x32xf32>
  %bm = cv.chip.mxm_matmul %a, %f : (tensor<2x8x64xf32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
  %r = cv.chip.mem_read %m, "y" : tensor<1x320xi32>
  return %r : tensor<1x320xi32>
}
