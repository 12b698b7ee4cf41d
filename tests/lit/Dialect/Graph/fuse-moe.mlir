// conveyor-graph-fuse-transformer turns a router + top-k + gather-dispatched experts +
// weighted sum into cv.graph.moe (the residual add stays outside), and leaves chains that
// compute something else alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-transformer | FileCheck %s
//
// Real torch 1.13 exports (models/tiny_llm/tiny-moe, Mixtral-style, top-2 of 4 experts):
// one MoE per layer (2 layers), nothing of the routing left.
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-moe-kv/tiny-moe-kv.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=TINY-KV --implicit-check-not=cv.graph.topk --implicit-check-not=cv.graph.gather --implicit-check-not=cv.graph.silu --implicit-check-not=cv.graph.reduce_sum
// TINY-KV-COUNT-2: cv.graph.moe %{{.*}} router(%{{.*}}) gate(%{{.*}}) up(%{{.*}}) down(%{{.*}}) {activation = "silu", normalize_weights = true, top_k = 2 : i64} : (tensor<?x?x64xf32>, tensor<64x4xf32>, tensor<4x64x32xf32>, tensor<4x64x32xf32>, tensor<4x32x64xf32>) -> tensor<?x?x64xf32>
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-moe-prefill/tiny-moe-prefill.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=TINY-PREFILL --implicit-check-not=cv.graph.topk --implicit-check-not=cv.graph.gather
// TINY-PREFILL-COUNT-2: cv.graph.moe {{.*}} -> tensor<1x8x64xf32>
//
// The zoo: Mixtral-8x7B (32 layers, top-2 of 8) and Qwen3-30B-A3B (48 layers, top-8 of 128).
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/mixtral-8x7b.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | grep -c 'cv.graph.moe .*{activation = "silu", normalize_weights = true, top_k = 2 : i64} : (tensor<?x?x4096xf32>, tensor<4096x8xf32>, tensor<8x4096x14336xf32>' | FileCheck %s --check-prefix=MIXTRAL
// MIXTRAL: {{^}}32{{$}}
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/qwen3-30b-a3b.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | grep -c 'cv.graph.moe .*top_k = 8 : i64}' | FileCheck %s --check-prefix=QWEN
// QWEN: {{^}}48{{$}}

// Mixtral style, as torch exports gpt-fast's ConditionalFeedForward: tokens = x flattened,
// softmax router, top-2, weights renormalised, SwiGLU experts gathered per token.
// CHECK-LABEL: func.func @mixtral
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x?x8xf32>, %[[WR:[^:]*]]: tensor<8x4xf32>, %[[WG:[^:]*]]: tensor<4x8x16xf32>, %[[WU:[^:]*]]: tensor<4x8x16xf32>, %[[WD:[^:]*]]: tensor<4x16x8xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.moe %[[X]] router(%[[WR]]) gate(%[[WG]]) up(%[[WU]]) down(%[[WD]]) {activation = "silu", normalize_weights = true, top_k = 2 : i64} : (tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x?x8xf32>
// CHECK-NEXT: %[[R:.*]] = cv.graph.add %[[X]], %[[Y]]
// CHECK-NEXT: return %[[R]]
func.func @mixtral(%x: tensor<?x?x8xf32>, %wr: tensor<8x4xf32>, %wg: tensor<4x8x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) -> tensor<?x?x8xf32> {
  %tokens = cv.graph.reshape %x {cv.dims = ["batch*seq", ""]} : tensor<?x?x8xf32> -> tensor<?x8xf32>
  %logits = cv.graph.matmul %tokens, %wr : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %probs = cv.graph.softmax %logits : tensor<?x4xf32>
  %values, %indices = cv.graph.topk %probs {axis = 1 : i64, k = 2 : i64} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %total = cv.graph.reduce_sum %values, [1] : tensor<?x2xf32> -> tensor<?x1xf32>
  %weights = cv.graph.div %values, %total : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %rows1 = cv.graph.reshape %tokens {cv.dims = ["batch*seq", "", ""]} : tensor<?x8xf32> -> tensor<?x1x8xf32>
  %rows = cv.graph.reshape %rows1 {cv.dims = ["batch*seq", "", "", ""]} : tensor<?x1x8xf32> -> tensor<?x1x1x8xf32>
  %g = cv.graph.gather %wg, %indices : (tensor<4x8x16xf32>, tensor<?x2xi64>) -> tensor<?x2x8x16xf32>
  %gate = cv.graph.matmul %rows, %g : (tensor<?x1x1x8xf32>, tensor<?x2x8x16xf32>) -> tensor<?x2x1x16xf32>
  %act = cv.graph.silu %gate : tensor<?x2x1x16xf32>
  %u = cv.graph.gather %wu, %indices : (tensor<4x8x16xf32>, tensor<?x2xi64>) -> tensor<?x2x8x16xf32>
  %up = cv.graph.matmul %rows, %u : (tensor<?x1x1x8xf32>, tensor<?x2x8x16xf32>) -> tensor<?x2x1x16xf32>
  %hidden = cv.graph.mul %act, %up : (tensor<?x2x1x16xf32>, tensor<?x2x1x16xf32>) -> tensor<?x2x1x16xf32>
  %d = cv.graph.gather %wd, %indices : (tensor<4x16x8xf32>, tensor<?x2xi64>) -> tensor<?x2x16x8xf32>
  %down = cv.graph.matmul %hidden, %d : (tensor<?x2x1x16xf32>, tensor<?x2x16x8xf32>) -> tensor<?x2x1x8xf32>
  %outs = cv.graph.reshape %down {cv.dims = ["batch*seq", "", ""]} : tensor<?x2x1x8xf32> -> tensor<?x2x8xf32>
  %column = cv.graph.reshape %weights {cv.dims = ["batch*seq", "", ""]} : tensor<?x2xf32> -> tensor<?x2x1xf32>
  %weighted = cv.graph.mul %outs, %column : (tensor<?x2x8xf32>, tensor<?x2x1xf32>) -> tensor<?x2x8xf32>
  %mixed = cv.graph.reduce_sum %weighted, [1] {keepdims = false} : tensor<?x2x8xf32> -> tensor<?x8xf32>
  %y = cv.graph.reshape %mixed {cv.dims = ["batch", "seq", ""]} : tensor<?x8xf32> -> tensor<?x?x8xf32>
  %r = cv.graph.add %x, %y : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// Top-k logits then softmax over them (gpt-oss routing), one-matrix GELU experts, tokens
// already 2-D (no reshape back): softmax_after_topk, no `up`.
// CHECK-LABEL: func.func @softmax_after_topk
// CHECK-SAME: (%[[X:[^:]*]]: tensor<5x8xf32>, %[[WR:[^:]*]]: tensor<8x4xf32>, %[[W1:[^:]*]]: tensor<4x8x16xf32>, %[[W2:[^:]*]]: tensor<4x16x8xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.moe %[[X]] router(%[[WR]]) gate(%[[W1]]) down(%[[W2]]) {activation = "gelu", softmax_after_topk = true, top_k = 2 : i64} : (tensor<5x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<5x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @softmax_after_topk(%tokens: tensor<5x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<5x8xf32> {
  %logits = cv.graph.matmul %tokens, %wr : (tensor<5x8xf32>, tensor<8x4xf32>) -> tensor<5x4xf32>
  %values, %indices = cv.graph.topk %logits {axis = 1 : i64, k = 2 : i64} : tensor<5x4xf32> -> tensor<5x2xf32>, tensor<5x2xi64>
  %weights = cv.graph.softmax %values : tensor<5x2xf32>
  %rows = cv.graph.reshape %tokens : tensor<5x8xf32> -> tensor<5x1x1x8xf32>
  %g = cv.graph.gather %w1, %indices : (tensor<4x8x16xf32>, tensor<5x2xi64>) -> tensor<5x2x8x16xf32>
  %h = cv.graph.matmul %rows, %g : (tensor<5x1x1x8xf32>, tensor<5x2x8x16xf32>) -> tensor<5x2x1x16xf32>
  %act = cv.graph.gelu %h : tensor<5x2x1x16xf32>
  %d = cv.graph.gather %w2, %indices : (tensor<4x16x8xf32>, tensor<5x2xi64>) -> tensor<5x2x16x8xf32>
  %down = cv.graph.matmul %act, %d : (tensor<5x2x1x16xf32>, tensor<5x2x16x8xf32>) -> tensor<5x2x1x8xf32>
  %outs = cv.graph.reshape %down : tensor<5x2x1x8xf32> -> tensor<5x2x8xf32>
  %column = cv.graph.reshape %weights : tensor<5x2xf32> -> tensor<5x2x1xf32>
  %weighted = cv.graph.mul %column, %outs : (tensor<5x2x1xf32>, tensor<5x2x8xf32>) -> tensor<5x2x8xf32>
  %mixed = cv.graph.reduce_sum %weighted, [1] {keepdims = false} : tensor<5x2x8xf32> -> tensor<5x8xf32>
  return %mixed : tensor<5x8xf32>
}

// -----

// Not fused: the routing indices are also returned (a user outside the chain), and
// experts fed different rows than the router's tokens.
// CHECK-LABEL: func.func @indices_used
// CHECK-NOT: cv.graph.moe
// CHECK: cv.graph.topk
// CHECK-LABEL: func.func @other_rows
// CHECK-NOT: cv.graph.moe
// CHECK: cv.graph.topk
func.func @indices_used(%tokens: tensor<5x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> (tensor<5x8xf32>, tensor<5x2xi64>) {
  %logits = cv.graph.matmul %tokens, %wr : (tensor<5x8xf32>, tensor<8x4xf32>) -> tensor<5x4xf32>
  %values, %indices = cv.graph.topk %logits {axis = 1 : i64, k = 2 : i64} : tensor<5x4xf32> -> tensor<5x2xf32>, tensor<5x2xi64>
  %weights = cv.graph.softmax %values : tensor<5x2xf32>
  %rows = cv.graph.reshape %tokens : tensor<5x8xf32> -> tensor<5x1x1x8xf32>
  %g = cv.graph.gather %w1, %indices : (tensor<4x8x16xf32>, tensor<5x2xi64>) -> tensor<5x2x8x16xf32>
  %h = cv.graph.matmul %rows, %g : (tensor<5x1x1x8xf32>, tensor<5x2x8x16xf32>) -> tensor<5x2x1x16xf32>
  %act = cv.graph.gelu %h : tensor<5x2x1x16xf32>
  %d = cv.graph.gather %w2, %indices : (tensor<4x16x8xf32>, tensor<5x2xi64>) -> tensor<5x2x16x8xf32>
  %down = cv.graph.matmul %act, %d : (tensor<5x2x1x16xf32>, tensor<5x2x16x8xf32>) -> tensor<5x2x1x8xf32>
  %outs = cv.graph.reshape %down : tensor<5x2x1x8xf32> -> tensor<5x2x8xf32>
  %column = cv.graph.reshape %weights : tensor<5x2xf32> -> tensor<5x2x1xf32>
  %weighted = cv.graph.mul %column, %outs : (tensor<5x2x1xf32>, tensor<5x2x8xf32>) -> tensor<5x2x8xf32>
  %mixed = cv.graph.reduce_sum %weighted, [1] {keepdims = false} : tensor<5x2x8xf32> -> tensor<5x8xf32>
  return %mixed, %indices : tensor<5x8xf32>, tensor<5x2xi64>
}
func.func @other_rows(%tokens: tensor<5x8xf32>, %other: tensor<5x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<5x8xf32> {
  %logits = cv.graph.matmul %tokens, %wr : (tensor<5x8xf32>, tensor<8x4xf32>) -> tensor<5x4xf32>
  %values, %indices = cv.graph.topk %logits {axis = 1 : i64, k = 2 : i64} : tensor<5x4xf32> -> tensor<5x2xf32>, tensor<5x2xi64>
  %weights = cv.graph.softmax %values : tensor<5x2xf32>
  %rows = cv.graph.reshape %other : tensor<5x8xf32> -> tensor<5x1x1x8xf32>
  %g = cv.graph.gather %w1, %indices : (tensor<4x8x16xf32>, tensor<5x2xi64>) -> tensor<5x2x8x16xf32>
  %h = cv.graph.matmul %rows, %g : (tensor<5x1x1x8xf32>, tensor<5x2x8x16xf32>) -> tensor<5x2x1x16xf32>
  %act = cv.graph.gelu %h : tensor<5x2x1x16xf32>
  %d = cv.graph.gather %w2, %indices : (tensor<4x16x8xf32>, tensor<5x2xi64>) -> tensor<5x2x16x8xf32>
  %down = cv.graph.matmul %act, %d : (tensor<5x2x1x16xf32>, tensor<5x2x16x8xf32>) -> tensor<5x2x1x8xf32>
  %outs = cv.graph.reshape %down : tensor<5x2x1x8xf32> -> tensor<5x2x8xf32>
  %column = cv.graph.reshape %weights : tensor<5x2xf32> -> tensor<5x2x1xf32>
  %weighted = cv.graph.mul %column, %outs : (tensor<5x2x1xf32>, tensor<5x2x8xf32>) -> tensor<5x2x8xf32>
  %mixed = cv.graph.reduce_sum %weighted, [1] {keepdims = false} : tensor<5x2x8xf32> -> tensor<5x8xf32>
  return %mixed : tensor<5x8xf32>
}
