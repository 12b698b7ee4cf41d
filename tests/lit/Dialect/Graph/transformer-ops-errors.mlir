// The transformer-level cv.graph ops reject shapes their matched chains could not have.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics

func.func @gated_mlp_bad_activation(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{activation "relu" must be one of silu, gelu, gelu_tanh}}
  %0 = cv.graph.gated_mlp %x, %wg, %wg, %wd {activation = "relu"} : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @gated_mlp_ffn_mismatch(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x12xf32>, %wd: tensor<16x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{must have the same FFN size}}
  %0 = cv.graph.gated_mlp %x, %wg, %wu, %wd {activation = "silu"} : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<8x12xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @gated_mlp_hidden_mismatch(%x: tensor<4x6xf32>, %wg: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{w_gate has 8 rows; the input's feature size is 6}}
  %0 = cv.graph.gated_mlp %x, %wg, %wg, %wd {activation = "silu"} : (tensor<4x6xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @gated_mlp_result_mismatch(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<4x9xf32> {
  // expected-error @+1 {{result's last dimension 9 must be the w_down output size 8}}
  %0 = cv.graph.gated_mlp %x, %wg, %wg, %wd {activation = "gelu"} : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<4x9xf32>
  return %0 : tensor<4x9xf32>
}

// -----

func.func @embedding_float_ids(%t: tensor<40x16xf32>, %ids: tensor<5xf32>) -> tensor<5x16xf32> {
  // expected-error @+1 {{ids 'tensor<5xf32>' must be an integer tensor}}
  %0 = cv.graph.embedding %t, %ids : (tensor<40x16xf32>, tensor<5xf32>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

// -----

func.func @embedding_width(%t: tensor<40x16xf32>, %ids: tensor<?x5xi64>) -> tensor<?x5x8xf32> {
  // expected-error @+1 {{result's last dimension must be the table's hidden size 16}}
  %0 = cv.graph.embedding %t, %ids : (tensor<40x16xf32>, tensor<?x5xi64>) -> tensor<?x5x8xf32>
  return %0 : tensor<?x5x8xf32>
}

// -----

func.func @lm_head_vocab(%x: tensor<2x16xf32>, %w: tensor<16x40xf32>) -> tensor<2x41xf32> {
  // expected-error @+1 {{result's last dimension 41 must be the vocabulary size 40}}
  %0 = cv.graph.lm_head %x, %w : (tensor<2x16xf32>, tensor<16x40xf32>) -> tensor<2x41xf32>
  return %0 : tensor<2x41xf32>
}

// -----

func.func @rotary_odd_head_dim(%x: tensor<2x3x7xf32>, %c: tensor<3x7xf32>) -> tensor<2x3x7xf32> {
  // expected-error @+1 {{head dimension 7 must be even}}
  %0 = cv.graph.rotary %x, %c, %c : (tensor<2x3x7xf32>, tensor<3x7xf32>, tensor<3x7xf32>) -> tensor<2x3x7xf32>
  return %0 : tensor<2x3x7xf32>
}

// -----

func.func @rotary_result_type(%x: tensor<2x3x8xf32>, %c: tensor<3x8xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{result type 'tensor<3x8xf32>' must be the input's type 'tensor<2x3x8xf32>'}}
  %0 = cv.graph.rotary %x, %c, %c : (tensor<2x3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

func.func @rotary_cos_sin_differ(%x: tensor<2x3x8xf32>, %c: tensor<3x8xf32>, %s: tensor<1x8xf32>) -> tensor<2x3x8xf32> {
  // expected-error @+1 {{cos 'tensor<3x8xf32>' and sin 'tensor<1x8xf32>' must have one type}}
  %0 = cv.graph.rotary %x, %c, %s : (tensor<2x3x8xf32>, tensor<3x8xf32>, tensor<1x8xf32>) -> tensor<2x3x8xf32>
  return %0 : tensor<2x3x8xf32>
}

// -----

func.func @rotary_no_broadcast(%x: tensor<2x3x8xf32>, %c: tensor<4x8xf32>) -> tensor<2x3x8xf32> {
  // expected-error @+1 {{cos/sin dimension 0 (4) does not broadcast to the input's 3}}
  %0 = cv.graph.rotary %x, %c, %c : (tensor<2x3x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<2x3x8xf32>
  return %0 : tensor<2x3x8xf32>
}
