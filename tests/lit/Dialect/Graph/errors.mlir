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

// -----

func.func @reshape_static_to_dynamic(%a: tensor<2x3xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'cv.graph.reshape' op result shape [?] must be static when the input [2, 3] is}}
  %0 = cv.graph.reshape %a : tensor<2x3xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @weight_no_name() -> tensor<4xf32> {
  // expected-error @+1 {{'cv.graph.weight' op needs a non-empty name}}
  %0 = cv.graph.weight {name = ""} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @weight_dynamic() -> tensor<?xf32> {
  // expected-error @+1 {{'cv.graph.weight' op result type 'tensor<?xf32>' must have a static shape}}
  %0 = cv.graph.weight {name = "w"} : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @exp_integer(%a: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{'cv.graph.exp' op needs a floating-point tensor, got 'tensor<4xi32>'}}
  %0 = cv.graph.exp %a : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @sqrt_integer(%a: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error @+1 {{'cv.graph.sqrt' op needs a floating-point tensor}}
  %0 = cv.graph.sqrt %a : tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

func.func @neg_bool(%a: tensor<4xi1>) -> tensor<4xi1> {
  // expected-error @+1 {{'cv.graph.neg' op needs an integer or floating-point tensor (not i1), got 'tensor<4xi1>'}}
  %0 = cv.graph.neg %a : tensor<4xi1>
  return %0 : tensor<4xi1>
}

// -----

func.func @not_float(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'cv.graph.not' op needs an i1 tensor, got 'tensor<4xf32>'}}
  %0 = cv.graph.not %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @unary_type_change(%a: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{'cv.graph.tanh' op requires the same type for all operands and results}}
  %0 = "cv.graph.tanh"(%a) : (tensor<4xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @pow_types(%a: tensor<4xf32>, %b: tensor<4xi64>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.pow' op operand element types differ: f32 vs i64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.pow %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @and_float(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'cv.graph.and' op needs i1 operands, got 'tensor<4xf32>'}}
  %0 = cv.graph.and %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @compare_result_type(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.less' op inferred type(s) 'tensor<4xi1>' are incompatible with return type(s) of operation 'tensor<4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.less %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @compare_broadcast(%a: tensor<4xi64>, %b: tensor<3xi64>) -> tensor<4xi1> {
  // expected-error @+2 {{'cv.graph.equal' op operand shapes [4] and [3] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.equal %a, %b : (tensor<4xi64>, tensor<3xi64>) -> tensor<4xi1>
  return %0 : tensor<4xi1>
}

// -----

func.func @where_condition(%c: tensor<4xf32>, %a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.where' op condition must be i1, got 'tensor<4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.where %c, %a, %a : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @where_values(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.where' op lhs and rhs element types differ: f32 vs f16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.where %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @where_condition_shape(%c: tensor<3xi1>, %a: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{'cv.graph.where' op condition and value shapes [3] and [2, 4] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.where %c, %a, %a : (tensor<3xi1>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @cast_shape(%a: tensor<2x3xf32>) -> tensor<3x2xf16> {
  // expected-error @+1 {{'cv.graph.cast' op changes dimension 0 from [2, 3] to [3, 2]; cast keeps the shape}}
  %0 = cv.graph.cast %a : tensor<2x3xf32> -> tensor<3x2xf16>
  return %0 : tensor<3x2xf16>
}

// -----

func.func @cast_rank(%a: tensor<6xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'cv.graph.cast' op changes the rank from 1 to 2}}
  %0 = cv.graph.cast %a : tensor<6xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_axis_range(%a: tensor<2x3xf32>) -> tensor<2x1xf32> {
  // expected-error @+2 {{'cv.graph.reduce_mean' op axes[0] = 2 is outside [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.reduce_mean %a, [2] : tensor<2x3xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

func.func @reduce_axis_order(%a: tensor<2x3xf32>) -> tensor<1x1xf32> {
  // expected-error @+2 {{'cv.graph.reduce_sum' op axes must be strictly increasing; axes[1] = 0 follows 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.reduce_sum %a, [1, 0] : tensor<2x3xf32> -> tensor<1x1xf32>
  return %0 : tensor<1x1xf32>
}

// -----

func.func @reduce_no_axes(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{'cv.graph.reduce_max' op needs at least one axis to reduce}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.reduce_max %a, [] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_keepdims(%a: tensor<2x3xf32>) -> tensor<2x1xf32> {
  // keepdims = false drops the reduced axis.
  // expected-error @+2 {{'cv.graph.reduce_min' op inferred type(s) 'tensor<2xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.reduce_min %a, [1] {keepdims = false} : tensor<2x3xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

func.func @argmax_axis(%a: tensor<2x3xf32>) -> tensor<2x1xi64> {
  // expected-error @+2 {{'cv.graph.argmax' op axis -1 is outside [0, 2) for an input of rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.argmax %a {axis = -1 : i64} : tensor<2x3xf32> -> tensor<2x1xi64>
  return %0 : tensor<2x1xi64>
}

// -----

func.func @layer_norm_scale(%x: tensor<2x8x64xf32>, %g: tensor<32xf32>) -> tensor<2x8x64xf32> {
  // expected-error @+2 {{'cv.graph.layer_norm' op scale of shape [32] does not broadcast to the normalised dimensions [64] (axis 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.layer_norm %x, %g : (tensor<2x8x64xf32>, tensor<32xf32>) -> tensor<2x8x64xf32>
  return %0 : tensor<2x8x64xf32>
}

// -----

func.func @layer_norm_bias(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>, %b: tensor<8x64xf32>) -> tensor<2x8x64xf32> {
  // With axis = -1 only the last dimension is normalised, so an [8, 64] bias does not fit.
  // expected-error @+2 {{'cv.graph.layer_norm' op bias of shape [8, 64] does not broadcast to the normalised dimensions [64] (axis 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.layer_norm %x, %g, %b : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<8x64xf32>) -> tensor<2x8x64xf32>
  return %0 : tensor<2x8x64xf32>
}

// -----

func.func @layer_norm_epsilon(%x: tensor<2x64xf32>, %g: tensor<64xf32>) -> tensor<2x64xf32> {
  // expected-error @+2 {{'cv.graph.layer_norm' op epsilon must be positive, got 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.layer_norm %x, %g {epsilon = 0.0 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @rms_norm_axis(%x: tensor<2x64xf32>, %g: tensor<64xf32>) -> tensor<2x64xf32> {
  // expected-error @+2 {{'cv.graph.rms_norm' op axis 2 is outside [-2, 1] for an input of rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.rms_norm %x, %g {axis = 2 : i64} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @rms_norm_integer(%x: tensor<2x64xi32>, %g: tensor<64xi32>) -> tensor<2x64xi32> {
  // expected-error @+2 {{'cv.graph.rms_norm' op needs a floating-point input, got 'tensor<2x64xi32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.rms_norm %x, %g : (tensor<2x64xi32>, tensor<64xi32>) -> tensor<2x64xi32>
  return %0 : tensor<2x64xi32>
}

// -----

func.func @gather_float_indices(%t: tensor<50x32xf32>, %i: tensor<5xf32>) -> tensor<5x32xf32> {
  // expected-error @+2 {{'cv.graph.gather' op indices must be integers, got 'tensor<5xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gather %t, %i : (tensor<50x32xf32>, tensor<5xf32>) -> tensor<5x32xf32>
  return %0 : tensor<5x32xf32>
}

// -----

func.func @gather_shape(%t: tensor<50x32xf32>, %i: tensor<1x5xi64>) -> tensor<5x32xf32> {
  // expected-error @+2 {{'cv.graph.gather' op inferred type(s) 'tensor<1x5x32xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gather %t, %i : (tensor<50x32xf32>, tensor<1x5xi64>) -> tensor<5x32xf32>
  return %0 : tensor<5x32xf32>
}

// -----

func.func @gather_axis(%t: tensor<50x32xf32>, %i: tensor<5xi64>) -> tensor<5x32xf32> {
  // expected-error @+2 {{'cv.graph.gather' op axis 2 is outside [0, 2) for an input of rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gather %t, %i {axis = 2 : i64} : (tensor<50x32xf32>, tensor<5xi64>) -> tensor<5x32xf32>
  return %0 : tensor<5x32xf32>
}

// -----

func.func @gather_elements_rank(%d: tensor<4x8xf32>, %i: tensor<4xi64>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.gather_elements' op indices [4] and data [4, 8] must have the same rank}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.gather_elements %d, %i : (tensor<4x8xf32>, tensor<4xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @scatter_updates(%d: tensor<4x8xf32>, %i: tensor<4x2xi64>, %u: tensor<4x3xf32>) -> tensor<4x8xf32> {
  // expected-error @+2 {{'cv.graph.scatter_elements' op updates [4, 3] and indices [4, 2] must have the same shape}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.scatter_elements %d, %i, %u : (tensor<4x8xf32>, tensor<4x2xi64>, tensor<4x3xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @scatter_reduction(%d: tensor<4x8xf32>, %i: tensor<4x2xi64>, %u: tensor<4x2xf32>) -> tensor<4x8xf32> {
  // expected-error @+2 {{'cv.graph.scatter_elements' op reduction = "sum" is not one of "none", "add", "mul", "max", "min"}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.scatter_elements %d, %i, %u {reduction = "sum"} : (tensor<4x8xf32>, tensor<4x2xi64>, tensor<4x2xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @concat_mismatch(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x8xf32> {
  // expected-error @+2 {{'cv.graph.concat' op input #1 [4, 5] differs from input #0 [2, 3] in dimension 0, which is not the concat axis 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @concat_element_types(%a: tensor<2xf32>, %b: tensor<2xf16>) -> tensor<4xf32> {
  // expected-error @+2 {{'cv.graph.concat' op input #1 has element type f16, input #0 has f32}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.concat %a, %b {axis = 0 : i64} : (tensor<2xf32>, tensor<2xf16>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_rank(%a: tensor<2xf32>, %b: tensor<1x2xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{'cv.graph.concat' op input #1 [1, 2] and input #0 [2] differ in rank}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.concat %a, %b {axis = 0 : i64} : (tensor<2xf32>, tensor<1x2xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @split_sizes(%a: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x3xf32>) {
  // expected-error @+2 {{'cv.graph.split' op sizes add up to 7 but dimension 1 of [2, 8] is 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = cv.graph.split %a {axis = 1 : i64, sizes = array<i64: 4, 3>} : tensor<2x8xf32> -> tensor<2x4xf32>, tensor<2x3xf32>
  return %0#0, %0#1 : tensor<2x4xf32>, tensor<2x3xf32>
}

// -----

func.func @slice_out_of_range(%a: tensor<2x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{'cv.graph.slice' op slice of axis 1 takes indices 6 to 9 (step 1), outside [0, 8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.slice %a {axes = array<i64: 1>, starts = array<i64: 6>, sizes = array<i64: 4>, steps = array<i64: 1>} : tensor<2x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @slice_backwards_past_start(%a: tensor<8xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{'cv.graph.slice' op slice of axis 0 takes indices 2 to -2 (step -2), outside [0, 8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.slice %a {axes = array<i64: 0>, starts = array<i64: 2>, sizes = array<i64: 3>, steps = array<i64: -2>} : tensor<8xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @slice_zero_step(%a: tensor<8xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{'cv.graph.slice' op steps[0] is 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.slice %a {axes = array<i64: 0>, starts = array<i64: 2>, sizes = array<i64: 3>, steps = array<i64: 0>} : tensor<8xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @slice_lengths(%a: tensor<8x8xf32>) -> tensor<3x8xf32> {
  // expected-error @+2 {{'cv.graph.slice' op axes, starts, sizes and steps must have one entry per sliced axis; got 1, 2, 1 and 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.slice %a {axes = array<i64: 0>, starts = array<i64: 2, 0>, sizes = array<i64: 3>, steps = array<i64: 1>} : tensor<8x8xf32> -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

func.func @slice_repeated_axis(%a: tensor<8x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+2 {{'cv.graph.slice' op axes repeats axis 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = cv.graph.slice %a {axes = array<i64: 0, 0>, starts = array<i64: 0, 0>, sizes = array<i64: 2, 2>, steps = array<i64: 1, 1>} : tensor<8x8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @expand_shrinks(%a: tensor<4x8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'cv.graph.expand' op input shape [4, 8] does not broadcast to the result shape [8]}}
  %0 = cv.graph.expand %a : tensor<4x8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @expand_mismatch(%a: tensor<3x1xf32>) -> tensor<2x4x5xf32> {
  // expected-error @+1 {{'cv.graph.expand' op input shape [3, 1] does not broadcast to the result shape [2, 4, 5]}}
  %0 = cv.graph.expand %a : tensor<3x1xf32> -> tensor<2x4x5xf32>
  return %0 : tensor<2x4x5xf32>
}

// -----

func.func @trilu_rank(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'cv.graph.trilu' op needs an input of rank >= 2, got 'tensor<8xf32>'}}
  %0 = cv.graph.trilu %a : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @topk_k(%a: tensor<6x8xf32>) -> (tensor<6x9xf32>, tensor<6x9xi64>) {
  // expected-error @+2 {{'cv.graph.topk' op k = 9 is outside [1, 8] (dimension 1 of [6, 8])}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = cv.graph.topk %a {k = 9 : i64, axis = 1 : i64} : tensor<6x8xf32> -> tensor<6x9xf32>, tensor<6x9xi64>
  return %0#0, %0#1 : tensor<6x9xf32>, tensor<6x9xi64>
}

// -----

func.func @topk_indices_type(%a: tensor<6x8xf32>) -> (tensor<6x2xf32>, tensor<6x2xi32>) {
  // expected-error @+2 {{'cv.graph.topk' op inferred type(s) 'tensor<6x2xf32>', 'tensor<6x2xi64>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = cv.graph.topk %a {k = 2 : i64, axis = 1 : i64} : tensor<6x8xf32> -> tensor<6x2xf32>, tensor<6x2xi32>
  return %0#0, %0#1 : tensor<6x2xf32>, tensor<6x2xi32>
}

// -----

func.func @dim_value_count() -> tensor<2xi64> {
  // expected-error @+1 {{'cv.graph.dim_value' op has 1 size expressions for 'tensor<2xi64>', which has 2 elements}}
  %0 = cv.graph.dim_value ["seq"] : tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

func.func @dim_value_syntax() -> tensor<i64> {
  // expected-error @+1 {{'cv.graph.dim_value' op exprs[0]: unexpected '/' at column 5 of 'seq / 2'}}
  %0 = cv.graph.dim_value ["seq / 2"] : tensor<i64>
  return %0 : tensor<i64>
}

// -----

func.func @dim_value_float() -> tensor<f32> {
  // expected-error @+1 {{'cv.graph.dim_value' op needs an integer result type, got 'tensor<f32>'}}
  %0 = cv.graph.dim_value ["seq"] : tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @iota_rank() -> tensor<2x3xi64> {
  // expected-error @+1 {{'cv.graph.iota' op needs a 1-D result, got 'tensor<2x3xi64>'}}
  %0 = cv.graph.iota : tensor<2x3xi64>
  return %0 : tensor<2x3xi64>
}

// -----

func.func @silu_integer(%a: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{'cv.graph.silu' op needs a floating-point tensor, got 'tensor<4xi32>'}}
  %0 = cv.graph.silu %a : tensor<4xi32>
  return %0 : tensor<4xi32>
}
