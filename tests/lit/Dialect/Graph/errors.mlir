// Every cv.graph verifier rejects what it should, with a message saying what is wrong.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics

func.func @constant_type_mismatch() -> tensor<4xf32> {
  // expected-error @+1 {{'cv.graph.constant' op value has type 'tensor<2xf32>' but the result type is 'tensor<4xf32>'; they must be identical}}
  %0 = cv.graph.constant dense<1.0> : tensor<2xf32> : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @constant_element_type_mismatch() -> tensor<2xf16> {
  // expected-error @+1 {{value has type 'tensor<2xf32>' but the result type is 'tensor<2xf16>'}}
  %0 = cv.graph.constant dense<1.0> : tensor<2xf32> : tensor<2xf16>
  return %0 : tensor<2xf16>
}

// -----

func.func @binary_no_broadcast(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{'cv.graph.add' op operand shapes [2, 3] and [4, 3] do not broadcast: dimension 1 (from the right) is 2 vs 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.add %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @binary_wrong_result(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{'cv.graph.mul' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.mul %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @binary_element_types(%a: tensor<3xf32>, %b: tensor<3xf16>) -> tensor<3xf32> {
  // expected-error @+2 {{'cv.graph.sub' op operand element types differ: f32 vs f16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.sub %a, %b : (tensor<3xf32>, tensor<3xf16>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @div_rank_grows_wrongly(%a: tensor<5x1x3xf32>, %b: tensor<4x1xf32>) -> tensor<5x1x3xf32> {
  // expected-error @+2 {{'cv.graph.div' op inferred type(s) 'tensor<5x4x3xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.div %a, %b : (tensor<5x1x3xf32>, tensor<4x1xf32>) -> tensor<5x1x3xf32>
  return %0 : tensor<5x1x3xf32>
}

// -----

func.func @matmul_contraction(%a: tensor<2x8xf32>, %b: tensor<7x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{'cv.graph.matmul' op contraction dimensions differ: lhs [2, 8] has K = 8, rhs [7, 4] has K = 7}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.matmul %a, %b : (tensor<2x8xf32>, tensor<7x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @matmul_rank1(%a: tensor<8xf32>, %b: tensor<8x4xf32>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.matmul' op operands must have rank >= 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.matmul %a, %b : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @matmul_batch(%a: tensor<3x2x8xf32>, %b: tensor<2x8x4xf32>) -> tensor<3x2x4xf32> {
  // expected-error @+2 {{'cv.graph.matmul' op batch dimensions [3] and [2] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.matmul %a, %b : (tensor<3x2x8xf32>, tensor<2x8x4xf32>) -> tensor<3x2x4xf32>
  return %0 : tensor<3x2x4xf32>
}

// -----

func.func @matmul_result(%a: tensor<2x8xf32>, %b: tensor<8x4xf32>) -> tensor<4x2xf32> {
  // expected-error @+2 {{'cv.graph.matmul' op inferred type(s) 'tensor<2x4xf32>' are incompatible with return type(s) of operation 'tensor<4x2xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.matmul %a, %b : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @gemm_trans(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // transB makes op(b) 16x8, whose K (16) differs from op(a)'s K (4).
  // expected-error @+2 {{'cv.graph.gemm' op contraction dimensions differ: op(a) is 8x4 (transA = false), op(b) is 16x8 (transB = true)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gemm %a, %b {transB = true} : (tensor<8x4xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @gemm_rank(%a: tensor<1x8x4xf32>, %b: tensor<4x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+2 {{'cv.graph.gemm' op a and b must be rank 2; got [1, 8, 4] and [4, 16]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gemm %a, %b : (tensor<1x8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @gemm_c_not_broadcastable(%a: tensor<8x4xf32>, %b: tensor<4x16xf32>, %c: tensor<8xf32>) -> tensor<8x16xf32> {
  // expected-error @+2 {{'cv.graph.gemm' op c of shape [8] does not broadcast to the result shape [8, 16]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gemm %a, %b, %c : (tensor<8x4xf32>, tensor<4x16xf32>, tensor<8xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @gemm_c_grows_result(%a: tensor<8x4xf32>, %b: tensor<4x16xf32>, %c: tensor<2x8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+2 {{'cv.graph.gemm' op c of shape [2, 8, 16] does not broadcast to the result shape [8, 16]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gemm %a, %b, %c : (tensor<8x4xf32>, tensor<4x16xf32>, tensor<2x8x16xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @gemm_c_column(%a: tensor<8x4xf32>, %b: tensor<4x16xf32>, %c: tensor<8x1xf32>) -> tensor<16x8xf32> {
  // A column bias [M, 1] is fine; the result type is what is wrong here.
  // expected-error @+2 {{'cv.graph.gemm' op inferred type(s) 'tensor<8x16xf32>' are incompatible with return type(s) of operation 'tensor<16x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gemm %a, %b, %c : (tensor<8x4xf32>, tensor<4x16xf32>, tensor<8x1xf32>) -> tensor<16x8xf32>
  return %0 : tensor<16x8xf32>
}

// -----

func.func @transpose_short_perm(%a: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  // expected-error @+2 {{'cv.graph.transpose' op perm has 2 entries but the input has rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.transpose %a, [1, 0] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return %0 : tensor<3x2x4xf32>
}

// -----

func.func @transpose_repeated(%a: tensor<2x3x4xf32>) -> tensor<3x3x4xf32> {
  // expected-error @+2 {{'cv.graph.transpose' op perm repeats dimension 1; it must be a permutation of 0..2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.transpose %a, [1, 1, 2] : tensor<2x3x4xf32> -> tensor<3x3x4xf32>
  return %0 : tensor<3x3x4xf32>
}

// -----

func.func @transpose_out_of_range(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{'cv.graph.transpose' op perm[1] = 2 is outside [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.transpose %a, [1, 2] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_result(%a: tensor<2x3x4xf32>) -> tensor<2x4x3xf32> {
  // expected-error @+2 {{'cv.graph.transpose' op inferred type(s) 'tensor<3x2x4xf32>' are incompatible with return type(s) of operation 'tensor<2x4x3xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.transpose %a, [1, 0, 2] : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  return %0 : tensor<2x4x3xf32>
}

// -----

func.func @reshape_count(%a: tensor<2x3x4xf32>) -> tensor<5x5xf32> {
  // expected-error @+1 {{'cv.graph.reshape' op changes the element count: input [2, 3, 4] has 24 elements, result [5, 5] has 25}}
  %0 = cv.graph.reshape %a : tensor<2x3x4xf32> -> tensor<5x5xf32>
  return %0 : tensor<5x5xf32>
}

// -----

func.func @reshape_dynamic_result(%a: tensor<2x3x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'cv.graph.reshape' op result shape [?, 4] must be static}}
  %0 = cv.graph.reshape %a : tensor<2x3x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @reshape_element_type(%a: tensor<2x3xf32>) -> tensor<6xf16> {
  // expected-error @+1 {{'cv.graph.reshape' op changes the element type from 'f32' to 'f16'; reshape must keep it}}
  %0 = cv.graph.reshape %a : tensor<2x3xf32> -> tensor<6xf16>
  return %0 : tensor<6xf16>
}

// -----

func.func @softmax_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'cv.graph.softmax' op axis 2 is outside [-2, 1] for an input of rank 2}}
  %0 = cv.graph.softmax %a {axis = 2 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @softmax_negative_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'cv.graph.softmax' op axis -3 is outside [-2, 1] for an input of rank 2}}
  %0 = cv.graph.softmax %a {axis = -3 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @softmax_integer(%a: tensor<2x3xi32>) -> tensor<2x3xi32> {
  // expected-error @+1 {{'cv.graph.softmax' op needs a floating-point tensor, got 'tensor<2x3xi32>'}}
  %0 = cv.graph.softmax %a : tensor<2x3xi32>
  return %0 : tensor<2x3xi32>
}

// -----

func.func @gelu_approximate(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'cv.graph.gelu' op approximate = "sigmoid" is not one of "none", "tanh"}}
  %0 = cv.graph.gelu %a {approximate = "sigmoid"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gelu_integer(%a: tensor<4xi8>) -> tensor<4xi8> {
  // expected-error @+1 {{'cv.graph.gelu' op needs a floating-point tensor, got 'tensor<4xi8>'}}
  %0 = cv.graph.gelu %a : tensor<4xi8>
  return %0 : tensor<4xi8>
}

