// Verifier messages of cv.graph.attention and cv.graph.moe: one line each, naming what is
// wrong.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics

func.func @heads_not_multiple(%q: tensor<1x6x3x64xf32>, %k: tensor<1x4x7x64xf32>, %v: tensor<1x4x7x64xf32>) -> tensor<1x6x3x64xf32> {
  // expected-error @+1 {{query heads 6 must be a multiple of the KV heads 4}}
  %a = cv.graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x6x3x64xf32>, tensor<1x4x7x64xf32>, tensor<1x4x7x64xf32>) -> tensor<1x6x3x64xf32>
  return %a : tensor<1x6x3x64xf32>
}

// -----

func.func @head_dim_mismatch(%q: tensor<1x4x3x64xf32>, %k: tensor<1x4x7x32xf32>, %v: tensor<1x4x7x32xf32>) -> tensor<1x4x3x32xf32> {
  // expected-error @+1 {{key head_dim 32 must equal the query's 64}}
  %a = cv.graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x4x3x64xf32>, tensor<1x4x7x32xf32>, tensor<1x4x7x32xf32>) -> tensor<1x4x3x32xf32>
  return %a : tensor<1x4x3x32xf32>
}

// -----

func.func @window_without_causal(%q: tensor<1x4x3x64xf32>, %k: tensor<1x4x7x64xf32>) -> tensor<1x4x3x64xf32> {
  // expected-error @+1 {{sliding_window 16 must be 0, or positive together with causal}}
  %a = cv.graph.attention %q, %k, %k {scale = 0.125 : f64, sliding_window = 16 : i64} : (tensor<1x4x3x64xf32>, tensor<1x4x7x64xf32>, tensor<1x4x7x64xf32>) -> tensor<1x4x3x64xf32>
  return %a : tensor<1x4x3x64xf32>
}

// -----

func.func @mask_does_not_broadcast(%q: tensor<1x4x3x64xf32>, %k: tensor<1x4x7x64xf32>, %m: tensor<3x5xf32>) -> tensor<1x4x3x64xf32> {
  // expected-error @+1 {{mask dimension 1 (5) does not broadcast to the scores' 7}}
  %a = cv.graph.attention %q, %k, %k mask(%m) {scale = 0.125 : f64} : (tensor<1x4x3x64xf32>, tensor<1x4x7x64xf32>, tensor<1x4x7x64xf32>, tensor<3x5xf32>) -> tensor<1x4x3x64xf32>
  return %a : tensor<1x4x3x64xf32>
}

// -----

func.func @bad_scale(%q: tensor<1x4x3x64xf32>, %k: tensor<1x4x7x64xf32>) -> tensor<1x4x3x64xf32> {
  // expected-error @+1 {{scale 0.000000e+00 must be positive}}
  %a = cv.graph.attention %q, %k, %k {scale = 0.0 : f64} : (tensor<1x4x3x64xf32>, tensor<1x4x7x64xf32>, tensor<1x4x7x64xf32>) -> tensor<1x4x3x64xf32>
  return %a : tensor<1x4x3x64xf32>
}

// -----

func.func @top_k_too_big(%x: tensor<3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<4x16x32xf32>, %wd: tensor<4x32x16xf32>) -> tensor<3x16xf32> {
  // expected-error @+1 {{top_k 5 must be in [1, experts = 4]}}
  %y = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 5 : i64, activation = "silu"} : (tensor<3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}

// -----

func.func @experts_mismatch(%x: tensor<3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<8x16x32xf32>, %wd: tensor<4x32x16xf32>) -> tensor<3x16xf32> {
  // expected-error @+1 {{w_gate has 8 experts; the router has 4}}
  %y = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 2 : i64, activation = "silu"} : (tensor<3x16xf32>, tensor<16x4xf32>, tensor<8x16x32xf32>, tensor<4x32x16xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}

// -----

func.func @bad_activation(%x: tensor<3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<4x16x32xf32>, %wd: tensor<4x32x16xf32>) -> tensor<3x16xf32> {
  // expected-error @+1 {{activation "relu" must be one of silu, gelu, gelu_tanh}}
  %y = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 2 : i64, activation = "relu"} : (tensor<3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}

// -----

func.func @normalize_with_softmax_after(%x: tensor<3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<4x16x32xf32>, %wd: tensor<4x32x16xf32>) -> tensor<3x16xf32> {
  // expected-error @+1 {{normalize_weights is meaningless with softmax_after_topk}}
  %y = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 2 : i64, activation = "silu", normalize_weights = true, softmax_after_topk = true} : (tensor<3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}

// -----

func.func @down_not_hidden(%x: tensor<3x16xf32>, %wr: tensor<16x4xf32>, %wg: tensor<4x16x32xf32>, %wd: tensor<4x32x8xf32>) -> tensor<3x16xf32> {
  // expected-error @+1 {{w_down 'tensor<4x32x8xf32>' must project back to the hidden size 16}}
  %y = cv.graph.moe %x router(%wr) gate(%wg) down(%wd) {top_k = 2 : i64, activation = "silu"} : (tensor<3x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x8xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}
