// Every cv.chip verifier rejects what it must, with a message that says what is wrong.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'cv.chip.weight' op value type 'tensor<4xf32>' differs from result type 'tensor<2x2xf32>'}}
%w = cv.chip.weight "w" {value = dense<1.0> : tensor<4xf32>} : tensor<2x2xf32>

// -----

// expected-error @+1 {{'cv.chip.weight' op needs a non-empty 'name'}}
%w = cv.chip.weight "" {value = dense<1.0> : tensor<4xf32>} : tensor<4xf32>

// -----

// expected-error @+1 {{'cv.chip.weight' op result must have a static shape, got 'tensor<?xf32>'}}
%w = "cv.chip.weight"() {name = "w", value = dense<1.0> : tensor<4xf32>} : () -> tensor<?xf32>

// -----

// expected-error @+1 {{'cv.chip.weight' op attribute 'sram_addr' must be non-negative, got -320}}
%w = cv.chip.weight "w" {sram_addr = -320 : i64, value = dense<1.0> : tensor<4xf32>} : tensor<4xf32>

// -----

func.func @negative_issue(%a: tensor<4xf32>) {
  // expected-error @+1 {{'cv.chip.mem_write' op attribute 'issue' must be non-negative, got -1}}
  %x = cv.chip.mem_write %a, "a" {issue = -1 : i64} : tensor<4xf32>
  return
}

// -----

func.func @unnamed_input(%a: tensor<4xf32>) {
  // expected-error @+1 {{'cv.chip.mem_write' op needs a non-empty 'name'}}
  %x = cv.chip.mem_write %a, "" : tensor<4xf32>
  return
}

// -----

func.func @read_with_address(%a: tensor<4xf32>) -> tensor<4xf32> {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.chip.mem_read' op result lives on the host and must not carry 'sram_addr'}}
  %r = cv.chip.mem_read %x, "y" {sram_addr = 0 : i64} : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @view_count(%a: tensor<4x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4x4xf32>
  // expected-error @+1 {{'cv.chip.view' op element count changes from 16 [4, 4] to 12 [3, 4]}}
  %v = cv.chip.view %x : tensor<4x4xf32> -> tensor<3x4xf32>
  return
}

// -----

func.func @view_type(%a: tensor<4x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4x4xf32>
  // expected-error @+1 {{'cv.chip.view' op cannot change the element type ('f32' -> 'i32'); a view moves no data}}
  %v = cv.chip.view %x : tensor<4x4xf32> -> tensor<16xi32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<4x4xf32>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op operands must have rank >= 2 ([.., M, K] x [.., K, N]), got [4] x [4, 4]}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x3xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<4x5xf32>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op contraction sizes differ: lhs [2, 3] has K = 3, rhs [4, 5] has K = 4}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x2x3xf32>, %b: tensor<3x3x5xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x2x3xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<3x3x5xf32>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op batch dimensions of [2, 2, 3] and [3, 3, 5] do not broadcast}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<2x2x3xf32>, tensor<3x3x5xf32>) -> tensor<3x2x5xf32>
  return
}

// -----

func.func @matmul_result(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x3xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<3x5xf32>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op result shape [5, 2] should be [2, 5]}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<5x2xf32>
  return
}

// -----

func.func @matmul_mixed(%a: tensor<2x3xf32>, %b: tensor<3x5xf16>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x3xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<3x5xf16>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op operand element types differ: 'f32' vs 'f16'}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<2x3xf32>, tensor<3x5xf16>) -> tensor<2x5xf32>
  return
}

// -----

func.func @matmul_accumulator(%a: tensor<2x3xf16>, %b: tensor<3x5xf16>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x3xf16>
  %y = cv.chip.mem_write %b, "b" : tensor<3x5xf16>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op result element type 'i32' should be the operand element type 'f16' (or i32 for integer operands)}}
  %m = cv.chip.mxm_matmul %x, %y : (tensor<2x3xf16>, tensor<3x5xf16>) -> tensor<2x5xi32>
  return
}

// -----

func.func @binary_kind(%a: tensor<4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.chip.vxm_binary' op unknown kind 'xor'; expected one of add, sub, mul, div, pow, max, min}}
  %y = cv.chip.vxm_binary "xor" %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @binary_broadcast(%a: tensor<4x3xf32>, %b: tensor<2xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4x3xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<2xf32>
  // expected-error @+1 {{'cv.chip.vxm_binary' op operand shapes [4, 3] and [2] do not broadcast}}
  %z = cv.chip.vxm_binary "add" %x, %y : (tensor<4x3xf32>, tensor<2xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @binary_result(%a: tensor<4x1xf32>, %b: tensor<3xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4x1xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<3xf32>
  // expected-error @+1 {{'cv.chip.vxm_binary' op result shape [4, 1] should be the broadcast shape [4, 3]}}
  %z = cv.chip.vxm_binary "mul" %x, %y : (tensor<4x1xf32>, tensor<3xf32>) -> tensor<4x1xf32>
  return
}

// -----

func.func @binary_types(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<4xf16>
  // expected-error @+1 {{'cv.chip.vxm_binary' op element types must match: 'f32', 'f16' -> 'f32'}}
  %z = cv.chip.vxm_binary "sub" %x, %y : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

func.func @unary_kind(%a: tensor<4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.chip.vxm_unary' op unknown kind 'floor'; expected one of relu, gelu, gelu_tanh, exp, log, sqrt, rsqrt, reciprocal, neg, abs, sin, cos, tanh, sigmoid, silu, erf}}
  %y = cv.chip.vxm_unary "floor" %x : tensor<4xf32>
  return
}

// -----

func.func @softmax_negative_axis(%a: tensor<2x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xf32>
  // expected-error @+1 {{'cv.chip.vxm_softmax' op axis -1 is out of range [0, 2) (cv.chip axes are non-negative)}}
  %y = cv.chip.vxm_softmax %x {axis = -1 : i64} : tensor<2x4xf32>
  return
}

// -----

func.func @softmax_axis(%a: tensor<2x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xf32>
  // expected-error @+1 {{'cv.chip.vxm_softmax' op axis 2 is out of range [0, 2)}}
  %y = cv.chip.vxm_softmax %x {axis = 2 : i64} : tensor<2x4xf32>
  return
}

// -----

func.func @transpose_length(%a: tensor<2x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xf32>
  // expected-error @+1 {{'cv.chip.sxm_transpose' op perm has 3 entries, input rank is 2}}
  %y = cv.chip.sxm_transpose %x, [0, 1, 2] : tensor<2x4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @transpose_perm(%a: tensor<2x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xf32>
  // expected-error @+1 {{'cv.chip.sxm_transpose' op perm [1, 1] is not a permutation of [0, 2)}}
  %y = cv.chip.sxm_transpose %x, [1, 1] : tensor<2x4xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @transpose_shape(%a: tensor<2x4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xf32>
  // expected-error @+1 {{'cv.chip.sxm_transpose' op result shape [2, 4] should be [4, 2]}}
  %y = cv.chip.sxm_transpose %x, [1, 0] : tensor<2x4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @copy_type(%a: tensor<4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.chip.mem_copy' op requires the same type for all operands and results}}
  %y = "cv.chip.mem_copy"(%x) : (tensor<4xf32>) -> tensor<4xf16>
  return
}

// -----

func.func @sum_one_addend(%a: tensor<4xf32>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.chip.vxm_sum' op takes 2 to 32 addends, not 1}}
  %y = cv.chip.vxm_sum %x : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @sum_types(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  %y = cv.chip.mem_write %b, "b" : tensor<4xf16>
  // expected-error @+1 {{'cv.chip.vxm_sum' op addend of type 'tensor<4xf16>' differs from the result type 'tensor<4xf32>'}}
  %z = cv.chip.vxm_sum %x, %y : tensor<4xf32>, tensor<4xf16> -> tensor<4xf32>
  return
}
