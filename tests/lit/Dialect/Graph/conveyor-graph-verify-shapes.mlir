// conveyor-graph-verify-shapes accepts static graphs and names the first dynamic value.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics -conveyor-graph-verify-shapes | FileCheck %s

// CHECK-LABEL: func.func @static
// CHECK: cv.graph.matmul
func.func @static(%x: tensor<8x16xf32> {cv.name = "x"}) -> tensor<8x4xf32> {
  %w = cv.graph.constant dense<1.0> : tensor<16x4xf32> : tensor<16x4xf32>
  %y = cv.graph.matmul %x, %w : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  return %y : tensor<8x4xf32>
}

// -----

// expected-error @+1 {{argument #1 ('tokens') of @main has type 'tensor<?x64xf32>' with dynamic dimension 0; Conveyor's lowering needs static shapes}}
func.func @main(%a: tensor<4xf32> {cv.name = "a"}, %x: tensor<?x64xf32> {cv.name = "tokens"}) -> tensor<?x64xf32> {
  %0 = cv.graph.relu %x : tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// expected-error @+1 {{argument #0 of @unnamed has type 'tensor<2x?xf32>' with dynamic dimension 1}}
func.func @unnamed(%x: tensor<2x?xf32>) -> tensor<2x?xf32> {
  return %x : tensor<2x?xf32>
}
