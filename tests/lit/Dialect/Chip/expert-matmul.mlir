// cv.chip.mxm_expert_matmul: round trip of both forms (float stack; narrow stack + scales)
// and every verifier message.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @float_stack
// CHECK: cv.chip.mxm_expert_matmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
func.func @float_stack(%x: tensor<2x1x1x8xf32>, %t: tensor<4x8x6xf32>, %i: tensor<2x2xi32>) -> tensor<2x2x1x6xf32> {
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
  return %r : tensor<2x2x1x6xf32>
}

// -----

// CHECK-LABEL: func.func @narrow_stack
// CHECK: cv.chip.mxm_expert_matmul %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x2x1x6xf16>, tensor<4x6x8xi8>, tensor<2x2xi32>, tensor<4x1x8xf32>) -> tensor<2x2x1x8xf16>
func.func @narrow_stack(%x: tensor<2x2x1x6xf16>, %t: tensor<4x6x8xi8>, %i: tensor<2x2xi32>, %s: tensor<4x1x8xf32>) -> tensor<2x2x1x8xf16> {
  %r = cv.chip.mxm_expert_matmul %x, %t, %i, %s : (tensor<2x2x1x6xf16>, tensor<4x6x8xi8>, tensor<2x2xi32>, tensor<4x1x8xf32>) -> tensor<2x2x1x8xf16>
  return %r : tensor<2x2x1x8xf16>
}

// -----

func.func @contraction_mismatch(%x: tensor<2x1x1x7xf32>, %t: tensor<4x8x6xf32>, %i: tensor<2x2xi32>) -> tensor<2x2x1x6xf32> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op lhs [2, 1, 1, 7] must be [2, 2 or 1, M, 8] for indices [2, 2] and table [4, 8, 6]}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x7xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
  return %r : tensor<2x2x1x6xf32>
}

// -----

func.func @not_a_stack(%x: tensor<2x1x1x8xf32>, %t: tensor<8x6xf32>, %i: tensor<2x2xi32>) -> tensor<2x2x1x6xf32> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op table must be the expert stack [experts, K, N], got [8, 6]}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x8xf32>, tensor<8x6xf32>, tensor<2x2xi32>) -> tensor<2x2x1x6xf32>
  return %r : tensor<2x2x1x6xf32>
}

// -----

func.func @float_indices(%x: tensor<2x1x1x8xf32>, %t: tensor<4x8x6xf32>, %i: tensor<2x2xf32>) -> tensor<2x2x1x6xf32> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op indices must be i32 [tokens, k], got 'tensor<2x2xf32>'}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xf32>) -> tensor<2x2x1x6xf32>
  return %r : tensor<2x2x1x6xf32>
}

// -----

func.func @bad_scale(%x: tensor<2x1x1x8xf16>, %t: tensor<4x8x6xi8>, %i: tensor<2x2xi32>, %s: tensor<4x6xf32>) -> tensor<2x2x1x6xf16> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op scale must be f32 [4, 1, 6], got 'tensor<4x6xf32>'}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i, %s : (tensor<2x1x1x8xf16>, tensor<4x8x6xi8>, tensor<2x2xi32>, tensor<4x6xf32>) -> tensor<2x2x1x6xf16>
  return %r : tensor<2x2x1x6xf16>
}

// -----

func.func @narrow_without_scale(%x: tensor<2x1x1x8xf16>, %t: tensor<4x8x6xi8>, %i: tensor<2x2xi32>) -> tensor<2x2x1x6xf16> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op without a scale the table must have lhs's element type}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x8xf16>, tensor<4x8x6xi8>, tensor<2x2xi32>) -> tensor<2x2x1x6xf16>
  return %r : tensor<2x2x1x6xf16>
}

// -----

func.func @bad_result(%x: tensor<2x1x1x8xf32>, %t: tensor<4x8x6xf32>, %i: tensor<2x2xi32>) -> tensor<2x1x1x6xf32> {
  // expected-error @+1 {{'cv.chip.mxm_expert_matmul' op result must be [2, 2, 1, 6], got [2, 1, 1, 6]}}
  %r = cv.chip.mxm_expert_matmul %x, %t, %i : (tensor<2x1x1x8xf32>, tensor<4x8x6xf32>, tensor<2x2xi32>) -> tensor<2x1x1x6xf32>
  return %r : tensor<2x1x1x6xf32>
}
