// conveyor-chip-shorten-chains: a transpose that only moves size-1 axes becomes a view, and
// a chain of adds whose partial sums have no other use (an all-reduce of tensor-parallel
// partials, then the residual) becomes one vxm_sum of all its addends (one VXM pass instead
// of 4 dependent adds); past 32 addends, a sum of sums.
// RUN: conveyor-opt %s --conveyor-chip-shorten-chains | FileCheck %s

// CHECK-LABEL: func.func @decode_tail
// CHECK-NOT: cv.chip.sxm_transpose
// CHECK: %[[H:.*]] = cv.chip.view %{{.*}} : tensor<1x1x4x8xf32> -> tensor<1x4x1x8xf32>
// CHECK-NOT: cv.chip.vxm_binary "add"
// CHECK: %[[ALL:.*]] = cv.chip.vxm_sum %[[E:[a-z0-9_]+]], %[[A:[a-z0-9_]+]], %[[B:[a-z0-9_]+]], %[[C:[a-z0-9_]+]], %[[D:[a-z0-9_]+]] : tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x32xf32>
// CHECK-NOT: cv.chip.vxm_binary "add"
// CHECK: cv.chip.mem_read %[[ALL]], "out"
// A sum whose partial is also read elsewhere keeps that partial: it becomes an addend.
// CHECK-LABEL: func.func @shared_partial
// CHECK: %[[S1:.*]] = cv.chip.vxm_binary "add" %{{.*}}, %{{.*}} :
// CHECK: %[[S3:.*]] = cv.chip.vxm_sum %[[S1]], %{{.*}}, %{{.*}} : tensor<1x32xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x32xf32>
// CHECK-NOT: cv.chip.vxm_binary "add"
// CHECK: cv.chip.vxm_unary "relu" %[[S1]]
// 34 addends: a sum of the first 32, then a sum of that and the last 2.
// CHECK-LABEL: func.func @wide
// CHECK: %[[W1:.*]] = cv.chip.vxm_sum %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} :
// CHECK: %[[W2:.*]] = cv.chip.vxm_sum %[[W1]], %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} :
// CHECK-NOT: cv.chip.vxm_binary
// CHECK: cv.chip.mem_read %[[W2]], "out"
module {
  func.func @decode_tail(%x: tensor<1x1x4x8xf32> {cv.name = "x"}, %a: tensor<1x32xf32> {cv.name = "a"},
                         %b: tensor<1x32xf32> {cv.name = "b"}, %c: tensor<1x32xf32> {cv.name = "c"},
                         %d: tensor<1x32xf32> {cv.name = "d"}, %e: tensor<1x32xf32> {cv.name = "e"})
      -> (tensor<1x4x1x8xf32> {cv.name = "heads"}, tensor<1x32xf32> {cv.name = "out"}) {
    %x0 = cv.chip.mem_write %x, "x" : tensor<1x1x4x8xf32>
    %t = cv.chip.sxm_transpose %x0, [0, 2, 1, 3] : tensor<1x1x4x8xf32> -> tensor<1x4x1x8xf32>
    %h = cv.chip.mem_copy %t : tensor<1x4x1x8xf32>
    %a0 = cv.chip.mem_write %a, "a" : tensor<1x32xf32>
    %b0 = cv.chip.mem_write %b, "b" : tensor<1x32xf32>
    %c0 = cv.chip.mem_write %c, "c" : tensor<1x32xf32>
    %d0 = cv.chip.mem_write %d, "d" : tensor<1x32xf32>
    %e0 = cv.chip.mem_write %e, "e" : tensor<1x32xf32>
    %s1 = cv.chip.vxm_binary "add" %a0, %b0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s2 = cv.chip.vxm_binary "add" %s1, %c0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s3 = cv.chip.vxm_binary "add" %s2, %d0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s4 = cv.chip.vxm_binary "add" %e0, %s3 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %h1 = cv.chip.mem_read %h, "heads" : tensor<1x4x1x8xf32>
    %o = cv.chip.mem_read %s4, "out" : tensor<1x32xf32>
    return %h1, %o : tensor<1x4x1x8xf32>, tensor<1x32xf32>
  }
  func.func @shared_partial(%a: tensor<1x32xf32> {cv.name = "a"}, %b: tensor<1x32xf32> {cv.name = "b"},
                            %c: tensor<1x32xf32> {cv.name = "c"}, %d: tensor<1x32xf32> {cv.name = "d"})
      -> (tensor<1x32xf32> {cv.name = "out"}, tensor<1x32xf32> {cv.name = "side"}) {
    %a0 = cv.chip.mem_write %a, "a" : tensor<1x32xf32>
    %b0 = cv.chip.mem_write %b, "b" : tensor<1x32xf32>
    %c0 = cv.chip.mem_write %c, "c" : tensor<1x32xf32>
    %d0 = cv.chip.mem_write %d, "d" : tensor<1x32xf32>
    %s1 = cv.chip.vxm_binary "add" %a0, %b0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s2 = cv.chip.vxm_binary "add" %s1, %c0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s3 = cv.chip.vxm_binary "add" %s2, %d0 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %r = cv.chip.vxm_unary "relu" %s1 : tensor<1x32xf32>
    %o = cv.chip.mem_read %s3, "out" : tensor<1x32xf32>
    %o2 = cv.chip.mem_read %r, "side" : tensor<1x32xf32>
    return %o, %o2 : tensor<1x32xf32>, tensor<1x32xf32>
  }
  func.func @wide(%a0: tensor<1x32xf32> {cv.name = "a0"}, %a1: tensor<1x32xf32> {cv.name = "a1"}, %a2: tensor<1x32xf32> {cv.name = "a2"}, %a3: tensor<1x32xf32> {cv.name = "a3"}, %a4: tensor<1x32xf32> {cv.name = "a4"}, %a5: tensor<1x32xf32> {cv.name = "a5"}, %a6: tensor<1x32xf32> {cv.name = "a6"}, %a7: tensor<1x32xf32> {cv.name = "a7"}, %a8: tensor<1x32xf32> {cv.name = "a8"}, %a9: tensor<1x32xf32> {cv.name = "a9"}, %a10: tensor<1x32xf32> {cv.name = "a10"}, %a11: tensor<1x32xf32> {cv.name = "a11"}, %a12: tensor<1x32xf32> {cv.name = "a12"}, %a13: tensor<1x32xf32> {cv.name = "a13"}, %a14: tensor<1x32xf32> {cv.name = "a14"}, %a15: tensor<1x32xf32> {cv.name = "a15"}, %a16: tensor<1x32xf32> {cv.name = "a16"}, %a17: tensor<1x32xf32> {cv.name = "a17"}, %a18: tensor<1x32xf32> {cv.name = "a18"}, %a19: tensor<1x32xf32> {cv.name = "a19"}, %a20: tensor<1x32xf32> {cv.name = "a20"}, %a21: tensor<1x32xf32> {cv.name = "a21"}, %a22: tensor<1x32xf32> {cv.name = "a22"}, %a23: tensor<1x32xf32> {cv.name = "a23"}, %a24: tensor<1x32xf32> {cv.name = "a24"}, %a25: tensor<1x32xf32> {cv.name = "a25"}, %a26: tensor<1x32xf32> {cv.name = "a26"}, %a27: tensor<1x32xf32> {cv.name = "a27"}, %a28: tensor<1x32xf32> {cv.name = "a28"}, %a29: tensor<1x32xf32> {cv.name = "a29"}, %a30: tensor<1x32xf32> {cv.name = "a30"}, %a31: tensor<1x32xf32> {cv.name = "a31"}, %a32: tensor<1x32xf32> {cv.name = "a32"}, %a33: tensor<1x32xf32> {cv.name = "a33"})
      -> (tensor<1x32xf32> {cv.name = "out"}) {
    %w0 = cv.chip.mem_write %a0, "a0" : tensor<1x32xf32>
    %w1 = cv.chip.mem_write %a1, "a1" : tensor<1x32xf32>
    %w2 = cv.chip.mem_write %a2, "a2" : tensor<1x32xf32>
    %w3 = cv.chip.mem_write %a3, "a3" : tensor<1x32xf32>
    %w4 = cv.chip.mem_write %a4, "a4" : tensor<1x32xf32>
    %w5 = cv.chip.mem_write %a5, "a5" : tensor<1x32xf32>
    %w6 = cv.chip.mem_write %a6, "a6" : tensor<1x32xf32>
    %w7 = cv.chip.mem_write %a7, "a7" : tensor<1x32xf32>
    %w8 = cv.chip.mem_write %a8, "a8" : tensor<1x32xf32>
    %w9 = cv.chip.mem_write %a9, "a9" : tensor<1x32xf32>
    %w10 = cv.chip.mem_write %a10, "a10" : tensor<1x32xf32>
    %w11 = cv.chip.mem_write %a11, "a11" : tensor<1x32xf32>
    %w12 = cv.chip.mem_write %a12, "a12" : tensor<1x32xf32>
    %w13 = cv.chip.mem_write %a13, "a13" : tensor<1x32xf32>
    %w14 = cv.chip.mem_write %a14, "a14" : tensor<1x32xf32>
    %w15 = cv.chip.mem_write %a15, "a15" : tensor<1x32xf32>
    %w16 = cv.chip.mem_write %a16, "a16" : tensor<1x32xf32>
    %w17 = cv.chip.mem_write %a17, "a17" : tensor<1x32xf32>
    %w18 = cv.chip.mem_write %a18, "a18" : tensor<1x32xf32>
    %w19 = cv.chip.mem_write %a19, "a19" : tensor<1x32xf32>
    %w20 = cv.chip.mem_write %a20, "a20" : tensor<1x32xf32>
    %w21 = cv.chip.mem_write %a21, "a21" : tensor<1x32xf32>
    %w22 = cv.chip.mem_write %a22, "a22" : tensor<1x32xf32>
    %w23 = cv.chip.mem_write %a23, "a23" : tensor<1x32xf32>
    %w24 = cv.chip.mem_write %a24, "a24" : tensor<1x32xf32>
    %w25 = cv.chip.mem_write %a25, "a25" : tensor<1x32xf32>
    %w26 = cv.chip.mem_write %a26, "a26" : tensor<1x32xf32>
    %w27 = cv.chip.mem_write %a27, "a27" : tensor<1x32xf32>
    %w28 = cv.chip.mem_write %a28, "a28" : tensor<1x32xf32>
    %w29 = cv.chip.mem_write %a29, "a29" : tensor<1x32xf32>
    %w30 = cv.chip.mem_write %a30, "a30" : tensor<1x32xf32>
    %w31 = cv.chip.mem_write %a31, "a31" : tensor<1x32xf32>
    %w32 = cv.chip.mem_write %a32, "a32" : tensor<1x32xf32>
    %w33 = cv.chip.mem_write %a33, "a33" : tensor<1x32xf32>
    %s1 = cv.chip.vxm_binary "add" %w0, %w1 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s2 = cv.chip.vxm_binary "add" %s1, %w2 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s3 = cv.chip.vxm_binary "add" %s2, %w3 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s4 = cv.chip.vxm_binary "add" %s3, %w4 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s5 = cv.chip.vxm_binary "add" %s4, %w5 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s6 = cv.chip.vxm_binary "add" %s5, %w6 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s7 = cv.chip.vxm_binary "add" %s6, %w7 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s8 = cv.chip.vxm_binary "add" %s7, %w8 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s9 = cv.chip.vxm_binary "add" %s8, %w9 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s10 = cv.chip.vxm_binary "add" %s9, %w10 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s11 = cv.chip.vxm_binary "add" %s10, %w11 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s12 = cv.chip.vxm_binary "add" %s11, %w12 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s13 = cv.chip.vxm_binary "add" %s12, %w13 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s14 = cv.chip.vxm_binary "add" %s13, %w14 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s15 = cv.chip.vxm_binary "add" %s14, %w15 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s16 = cv.chip.vxm_binary "add" %s15, %w16 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s17 = cv.chip.vxm_binary "add" %s16, %w17 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s18 = cv.chip.vxm_binary "add" %s17, %w18 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s19 = cv.chip.vxm_binary "add" %s18, %w19 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s20 = cv.chip.vxm_binary "add" %s19, %w20 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s21 = cv.chip.vxm_binary "add" %s20, %w21 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s22 = cv.chip.vxm_binary "add" %s21, %w22 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s23 = cv.chip.vxm_binary "add" %s22, %w23 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s24 = cv.chip.vxm_binary "add" %s23, %w24 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s25 = cv.chip.vxm_binary "add" %s24, %w25 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s26 = cv.chip.vxm_binary "add" %s25, %w26 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s27 = cv.chip.vxm_binary "add" %s26, %w27 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s28 = cv.chip.vxm_binary "add" %s27, %w28 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s29 = cv.chip.vxm_binary "add" %s28, %w29 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s30 = cv.chip.vxm_binary "add" %s29, %w30 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s31 = cv.chip.vxm_binary "add" %s30, %w31 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s32 = cv.chip.vxm_binary "add" %s31, %w32 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %s33 = cv.chip.vxm_binary "add" %s32, %w33 : (tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<1x32xf32>
    %o = cv.chip.mem_read %s33, "out" : tensor<1x32xf32>
    return %o : tensor<1x32xf32>
  }
}
