// conveyor-chip-shorten-chains: a transpose that only moves size-1 axes becomes a view, and
// a chain of adds whose partial sums have no other use (an all-reduce of tensor-parallel
// partials, then the residual) becomes a balanced tree: 5 leaves, 3 adds deep instead of 4.
// RUN: conveyor-opt %s --conveyor-chip-shorten-chains | FileCheck %s

// CHECK-LABEL: func.func @decode_tail
// CHECK-NOT: cv.chip.sxm_transpose
// CHECK: %[[H:.*]] = cv.chip.view %{{.*}} : tensor<1x1x4x8xf32> -> tensor<1x4x1x8xf32>
// CHECK: %[[AB:.*]] = cv.chip.vxm_binary "add" %[[A:[a-z0-9]+]], %[[B:[a-z0-9]+]] :
// CHECK: %[[CD:.*]] = cv.chip.vxm_binary "add" %[[C:[a-z0-9]+]], %[[D:[a-z0-9]+]] :
// CHECK: %[[ABCD:.*]] = cv.chip.vxm_binary "add" %[[AB]], %[[CD]] :
// CHECK: %[[ALL:.*]] = cv.chip.vxm_binary "add" %[[ABCD]], %{{.*}} :
// CHECK-NOT: cv.chip.vxm_binary "add"
// CHECK: cv.chip.mem_read %[[ALL]], "out"
// A sum whose partial is also read elsewhere keeps its order.
// CHECK-LABEL: func.func @shared_partial
// CHECK: %[[S1:.*]] = cv.chip.vxm_binary "add" %{{.*}}, %{{.*}} :
// CHECK: %[[S2:.*]] = cv.chip.vxm_binary "add" %[[S1]], %{{.*}} :
// CHECK: %[[S3:.*]] = cv.chip.vxm_binary "add" %[[S2]], %{{.*}} :
// CHECK: cv.chip.vxm_unary "relu" %[[S1]]
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
}
