// conveyor-graph-fuse-transformer turns the attention core softmax(mask(scale * q @ k^T)) @ v
// into cv.graph.attention: the GQA head repeat is absorbed, causal and sliding-window masks
// (recognised by evaluating what the mask subgraph computes) become attributes, other
// additive masks stay an operand, and chains that compute something else are left alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-transformer | FileCheck %s
//
// Real torch 1.13 exports (models/tiny_llm): one causal attention per layer (2 layers),
// with and without a KV cache; the cache concats stay and feed the op, GQA 4 on 2 heads.
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-llama-kv/tiny-llama-kv.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=LLAMA-KV --implicit-check-not=cv.graph.softmax --implicit-check-not=cv.graph.expand
// LLAMA-KV: %[[K:.*]] = cv.graph.concat %arg1, %{{.*}} {axis = 2 : i64}
// LLAMA-KV: %[[V:.*]] = cv.graph.concat %arg2, %{{.*}} {axis = 2 : i64}
// LLAMA-KV: cv.graph.attention %{{.*}}, %[[K]], %[[V]] {causal = true, scale = 2.500000e-01 : f64} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
// LLAMA-KV-COUNT-1: cv.graph.attention
// LLAMA-KV: return %{{.*}}, %[[K]], %[[V]],
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-llama-prefill/tiny-llama-prefill.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=PREFILL --implicit-check-not=cv.graph.softmax --implicit-check-not=cv.graph.where
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-gpt2-prefill/tiny-gpt2-prefill.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=PREFILL --implicit-check-not=cv.graph.softmax --implicit-check-not=cv.graph.where
// PREFILL-COUNT-2: cv.graph.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = true, scale = 2.500000e-01 : f64} : (tensor<1x4x8x16xf32>, tensor<1x{{[24]}}x8x16xf32>, tensor<1x{{[24]}}x8x16xf32>) -> tensor<1x4x8x16xf32>
// RUN: conveyor-translate --import-onnx %models/tiny_llm/tiny-gpt2-kv/tiny-gpt2-kv.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=GPT2-KV --implicit-check-not=cv.graph.softmax --implicit-check-not=cv.graph.where
// GPT2-KV-COUNT-2: cv.graph.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = true, scale = 2.500000e-01 : f64} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
//
// The zoo: Llama-2-7B (32 layers, MHA), Llama-3-8B (32 layers, GQA 32 on 8 KV heads),
// GPT-2 small (12 layers, boolean where-mask).
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/llama2-7b.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.attention .*causal = true, scale = 0.088388346135616302 : f64} : (tensor<?x32x?x128xf32>, tensor<?x32x?x128xf32>" | FileCheck %s --check-prefix=ZOO32
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/llama3-8b.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.attention .*causal = true, scale = 0.088388346135616302 : f64} : (tensor<?x32x?x128xf32>, tensor<?x8x?x128xf32>, tensor<?x8x?x128xf32>)" | FileCheck %s --check-prefix=ZOO32
// ZOO32: {{^}}32{{$}}
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/gpt2-small.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.attention .*causal = true, scale = 1.250000e-01 : f64}" | FileCheck %s --check-prefix=ZOO12
// ZOO12: {{^}}12{{$}}
// gpt-oss-120b: learned sinks in all 36 layers, a 128-key sliding window on every other one
// (an additive mask built from positions; the sink column dropped by a gather of an iota).
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/gpt-oss-120b.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.attention .* sinks(%.*) {causal = true, scale = 1.250000e-01 : f64} : (tensor<?x64x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<64xf32>)" | FileCheck %s --check-prefix=GPTOSS
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/gpt-oss-120b.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.attention .* sinks(%.*) {causal = true, scale = 1.250000e-01 : f64, sliding_window = 128 : i64}" | FileCheck %s --check-prefix=GPTOSS
// GPTOSS: {{^}}18{{$}}

// GQA with a KV cache, as torch exports it: repeat_kv, q @ k^T / sqrt(d), and
// where(key position > query position, lowest float, scores).
// CHECK-LABEL: func.func @gqa_with_cache
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x4x?x16xf32>, %[[PK:[^:]*]]: tensor<?x2x?x16xf32> {{.*}}, %[[PV:[^:]*]]: tensor<?x2x?x16xf32> {{.*}}, %[[NK:[^:]*]]: tensor<?x2x?x16xf32>, %[[NV:[^:]*]]: tensor<?x2x?x16xf32>)
// CHECK-NEXT: %[[K:.*]] = cv.graph.concat %[[PK]], %[[NK]]
// CHECK-NEXT: %[[V:.*]] = cv.graph.concat %[[PV]], %[[NV]]
// CHECK-NEXT: %[[O:.*]] = cv.graph.attention %[[Q]], %[[K]], %[[V]] {causal = true, scale = 2.500000e-01 : f64} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[O]], %[[K]], %[[V]]
func.func @gqa_with_cache(%q: tensor<?x4x?x16xf32>, %pastk: tensor<?x2x?x16xf32> {cv.dim_names = ["batch", "", "past", ""]}, %pastv: tensor<?x2x?x16xf32> {cv.dim_names = ["batch", "", "past", ""]}, %newk: tensor<?x2x?x16xf32>, %newv: tensor<?x2x?x16xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %k = cv.graph.concat %pastk, %newk {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %v = cv.graph.concat %pastv, %newv {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %k1 = cv.graph.reshape %k {cv.dims = ["batch", "", "", "past + seq", ""]} : tensor<?x2x?x16xf32> -> tensor<?x2x1x?x16xf32>
  %k2 = cv.graph.expand %k1 {cv.dims = ["batch", "", "", "past + seq", ""]} : tensor<?x2x1x?x16xf32> -> tensor<?x2x2x?x16xf32>
  %k3 = cv.graph.reshape %k2 {cv.dims = ["batch", "", "past + seq", ""]} : tensor<?x2x2x?x16xf32> -> tensor<?x4x?x16xf32>
  %v1 = cv.graph.reshape %v {cv.dims = ["batch", "", "", "past + seq", ""]} : tensor<?x2x?x16xf32> -> tensor<?x2x1x?x16xf32>
  %v2 = cv.graph.expand %v1 {cv.dims = ["batch", "", "", "past + seq", ""]} : tensor<?x2x1x?x16xf32> -> tensor<?x2x2x?x16xf32>
  %v3 = cv.graph.reshape %v2 {cv.dims = ["batch", "", "past + seq", ""]} : tensor<?x2x2x?x16xf32> -> tensor<?x4x?x16xf32>
  %kt = cv.graph.transpose %k3, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %c4 = cv.graph.constant dense<4.0> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.div %s, %c4 : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %iq = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  %past = cv.graph.dim_value ["past"] : tensor<i64>
  %pos = cv.graph.add %iq, %past : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %ik = cv.graph.iota {cv.dims = ["past + seq"]} : tensor<?xi64>
  %row = cv.graph.reshape %ik {cv.dims = ["", "past + seq"]} : tensor<?xi64> -> tensor<1x?xi64>
  %col = cv.graph.reshape %pos {cv.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %future = cv.graph.greater %row, %col : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %fill = cv.graph.constant dense<-3.40282347E+38> : tensor<f32> : tensor<f32>
  %masked = cv.graph.where %future, %fill, %scaled : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = cv.graph.softmax %masked : tensor<?x4x?x?xf32>
  %o = cv.graph.matmul %p, %v3 : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// GPT-2 prefill, as torch 1.13 folds it: k^T is one transpose of the head split (perm
// [0, 2, 3, 1]), so a transpose to [b, h, t, d] is made for the key; the visible-where-true
// boolean mask is a folded lower-triangular constant.
// CHECK-LABEL: func.func @gpt2_prefill
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x4x4x16xf32>, %[[KS:[^:]*]]: tensor<1x4x4x16xf32>, %[[V:[^:]*]]: tensor<1x4x4x16xf32>)
// CHECK-NEXT: %[[K:.*]] = cv.graph.transpose %[[KS]], [0, 2, 1, 3] : tensor<1x4x4x16xf32> -> tensor<1x4x4x16xf32>
// CHECK-NEXT: %[[O:.*]] = cv.graph.attention %[[Q]], %[[K]], %[[V]] {causal = true, scale = 1.250000e-01 : f64}
// CHECK-NEXT: return %[[O]]
func.func @gpt2_prefill(%q: tensor<1x4x4x16xf32>, %ksplit: tensor<1x4x4x16xf32>, %v: tensor<1x4x4x16xf32>) -> tensor<1x4x4x16xf32> {
  %kt = cv.graph.transpose %ksplit, [0, 2, 3, 1] : tensor<1x4x4x16xf32> -> tensor<1x4x16x4xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x4x4x16xf32>, tensor<1x4x16x4xf32>) -> tensor<1x4x4x4xf32>
  %c = cv.graph.constant dense<8.0> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.div %s, %c : (tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %allowed = cv.graph.constant dense<[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]> : tensor<4x4xi1> : tensor<4x4xi1>
  %fill = cv.graph.constant dense<-1.0e9> : tensor<f32> : tensor<f32>
  %masked = cv.graph.where %allowed, %scaled, %fill : (tensor<4x4xi1>, tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %p = cv.graph.softmax %masked : tensor<1x4x4x4xf32>
  %o = cv.graph.matmul %p, %v : (tensor<1x4x4x4xf32>, tensor<1x4x4x16xf32>) -> tensor<1x4x4x16xf32>
  return %o : tensor<1x4x4x16xf32>
}

// -----

// The zoo's sliding-window layers: an additive mask, lowest float for future keys and for
// keys W = 4 or more positions back (query - (W - 1) > key), on a KV cache.
// CHECK-LABEL: func.func @sliding_window
// CHECK: cv.graph.attention %{{.*}}, %[[K:.*]], %{{.*}} {causal = true, scale = 2.500000e-01 : f64, sliding_window = 4 : i64}
// CHECK-NOT: cv.graph.softmax
func.func @sliding_window(%q: tensor<?x2x?x16xf32>, %pastk: tensor<?x2x?x16xf32> {cv.dim_names = ["batch", "", "past", ""]}, %newk: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32> {
  %k = cv.graph.concat %pastk, %newk {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<?x2x?x16xf32> -> tensor<?x2x16x?xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32>) -> tensor<?x2x?x?xf32>
  %c = cv.graph.constant dense<0.25> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.mul %s, %c : (tensor<?x2x?x?xf32>, tensor<f32>) -> tensor<?x2x?x?xf32>
  %keys = cv.graph.iota {cv.dims = ["past + seq"]} : tensor<?xi64>
  %iq = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  %past = cv.graph.dim_value ["past"] : tensor<i64>
  %pos = cv.graph.add %iq, %past : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %queries = cv.graph.reshape %pos {cv.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %future = cv.graph.less %queries, %keys : (tensor<?x1xi64>, tensor<?xi64>) -> tensor<?x?xi1>
  %lowest = cv.graph.constant dense<-3.40282347E+38> : tensor<f32> : tensor<f32>
  %zero = cv.graph.constant dense<0.0> : tensor<f32> : tensor<f32>
  %causal = cv.graph.where %future, %lowest, %zero : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %w1 = cv.graph.constant dense<3> : tensor<i64> : tensor<i64>
  %oldest = cv.graph.sub %queries, %w1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %tooOld = cv.graph.less %keys, %oldest : (tensor<?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %mask = cv.graph.where %tooOld, %lowest, %causal : (tensor<?x?xi1>, tensor<f32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %masked = cv.graph.add %scaled, %mask : (tensor<?x2x?x?xf32>, tensor<?x?xf32>) -> tensor<?x2x?x?xf32>
  %p = cv.graph.softmax %masked : tensor<?x2x?x?xf32>
  %o = cv.graph.matmul %p, %v : (tensor<?x2x?x?xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  return %o : tensor<?x2x?x16xf32>
}

// -----

// An additive mask that depends on a model input (padding) stays an operand.
// CHECK-LABEL: func.func @padding_mask
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x3x8xf32>, %[[K:[^:]*]]: tensor<2x4x5x8xf32>, %[[V:[^:]*]]: tensor<2x4x5x8xf32>, %[[M:[^:]*]]: tensor<2x1x1x5xf32>)
// CHECK-NEXT: %[[O:.*]] = cv.graph.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]]) {scale = 5.000000e-01 : f64} : (tensor<2x4x3x8xf32>, tensor<2x4x5x8xf32>, tensor<2x4x5x8xf32>, tensor<2x1x1x5xf32>) -> tensor<2x4x3x8xf32>
// CHECK-NEXT: return %[[O]]
func.func @padding_mask(%q: tensor<2x4x3x8xf32>, %k: tensor<2x4x5x8xf32>, %v: tensor<2x4x5x8xf32>, %pad: tensor<2x1x1x5xf32>) -> tensor<2x4x3x8xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<2x4x5x8xf32> -> tensor<2x4x8x5xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %c = cv.graph.constant dense<0.5> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.mul %c, %s : (tensor<f32>, tensor<2x4x3x5xf32>) -> tensor<2x4x3x5xf32>
  %masked = cv.graph.add %pad, %scaled : (tensor<2x1x1x5xf32>, tensor<2x4x3x5xf32>) -> tensor<2x4x3x5xf32>
  %p = cv.graph.softmax %masked : tensor<2x4x3x5xf32>
  %o = cv.graph.matmul %p, %v : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32>
  return %o : tensor<2x4x3x8xf32>
}

// -----

// Not fused: an off-by-one mask (>= also hides the diagonal, so a row can see nothing) is
// not causal, and a boolean mask has no additive form to keep.
// CHECK-LABEL: func.func @not_causal
// CHECK-NOT: cv.graph.attention
// CHECK: cv.graph.softmax
func.func @not_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %rows = cv.graph.iota : tensor<4xi64>
  %col = cv.graph.reshape %rows : tensor<4xi64> -> tensor<4x1xi64>
  %hidden = cv.graph.greater_equal %rows, %col : (tensor<4xi64>, tensor<4x1xi64>) -> tensor<4x4xi1>
  %fill = cv.graph.constant dense<-3.40282347E+38> : tensor<f32> : tensor<f32>
  %masked = cv.graph.where %hidden, %fill, %s : (tensor<4x4xi1>, tensor<f32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = cv.graph.softmax %masked : tensor<1x2x4x4xf32>
  %o = cv.graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Not fused: the probabilities are also returned (an intermediate with a user outside the
// chain), and a softmax over the query axis is no attention.
// CHECK-LABEL: func.func @probabilities_used
// CHECK-NOT: cv.graph.attention
// CHECK: return
// CHECK-LABEL: func.func @wrong_softmax_axis
// CHECK-NOT: cv.graph.attention
// CHECK: return
func.func @probabilities_used(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>) {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = cv.graph.softmax %s : tensor<1x2x4x4xf32>
  %o = cv.graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o, %p : tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>
}
func.func @wrong_softmax_axis(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = cv.graph.softmax %s {axis = 2 : i64} : tensor<1x2x4x4xf32>
  %o = cv.graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// gpt-oss sinks, shapes bound: softmax(concat(s + mask, expand(sinks)) - max)[..., :t] @ v.
// CHECK-LABEL: func.func @sinks
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x4x2x8xf32>, %[[K:[^:]*]]: tensor<1x4x3x8xf32>, %[[V:[^:]*]]: tensor<1x4x3x8xf32>, %[[S:[^:]*]]: tensor<4xf32>)
// CHECK-NEXT: %[[O:.*]] = cv.graph.attention %[[Q]], %[[K]], %[[V]] sinks(%[[S]]) {causal = true, scale = 2.500000e-01 : f64}
// CHECK-NEXT: return %[[O]]
func.func @sinks(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>, %sinks: tensor<4xf32>) -> tensor<1x4x2x8xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x4x3x8xf32> -> tensor<1x4x8x3xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x4x2x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x2x3xf32>
  %c = cv.graph.constant dense<0.25> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.mul %s, %c : (tensor<1x4x2x3xf32>, tensor<f32>) -> tensor<1x4x2x3xf32>
  %mask = cv.graph.constant dense<[[0.0, 0.0, -3.40282347E+38], [0.0, 0.0, 0.0]]> : tensor<2x3xf32> : tensor<2x3xf32>
  %masked = cv.graph.add %scaled, %mask : (tensor<1x4x2x3xf32>, tensor<2x3xf32>) -> tensor<1x4x2x3xf32>
  %column = cv.graph.reshape %sinks : tensor<4xf32> -> tensor<1x4x1x1xf32>
  %expanded = cv.graph.expand %column : tensor<1x4x1x1xf32> -> tensor<1x4x2x1xf32>
  %joined = cv.graph.concat %masked, %expanded {axis = 3 : i64} : (tensor<1x4x2x3xf32>, tensor<1x4x2x1xf32>) -> tensor<1x4x2x4xf32>
  %peak = cv.graph.reduce_max %joined, [3] : tensor<1x4x2x4xf32> -> tensor<1x4x2x1xf32>
  %shifted = cv.graph.sub %joined, %peak : (tensor<1x4x2x4xf32>, tensor<1x4x2x1xf32>) -> tensor<1x4x2x4xf32>
  %p = cv.graph.softmax %shifted : tensor<1x4x2x4xf32>
  %kept = cv.graph.slice %p {axes = array<i64: 3>, sizes = array<i64: 3>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<1x4x2x4xf32> -> tensor<1x4x2x3xf32>
  %o = cv.graph.matmul %kept, %v : (tensor<1x4x2x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x2x8xf32>
  return %o : tensor<1x4x2x8xf32>
}

// -----

// Not fused: the slice keeps the sink column and drops a key instead.
// CHECK-LABEL: func.func @sinks_wrong_column
// CHECK-NOT: cv.graph.attention
// CHECK: return
func.func @sinks_wrong_column(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>, %sinks: tensor<4xf32>) -> tensor<1x4x2x8xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x4x3x8xf32> -> tensor<1x4x8x3xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x4x2x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x2x3xf32>
  %column = cv.graph.reshape %sinks : tensor<4xf32> -> tensor<1x4x1x1xf32>
  %expanded = cv.graph.expand %column : tensor<1x4x1x1xf32> -> tensor<1x4x2x1xf32>
  %joined = cv.graph.concat %s, %expanded {axis = 3 : i64} : (tensor<1x4x2x3xf32>, tensor<1x4x2x1xf32>) -> tensor<1x4x2x4xf32>
  %p = cv.graph.softmax %joined : tensor<1x4x2x4xf32>
  %kept = cv.graph.slice %p {axes = array<i64: 3>, sizes = array<i64: 3>, starts = array<i64: 1>, steps = array<i64: 1>} : tensor<1x4x2x4xf32> -> tensor<1x4x2x3xf32>
  %o = cv.graph.matmul %kept, %v : (tensor<1x4x2x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x2x8xf32>
  return %o : tensor<1x4x2x8xf32>
}

// -----

// A prefill-only export (no cache) of a sliding-window model, dynamic seq: the 1000-key
// window only shows on long sequences, which the evaluation probes (first and last rows).
// CHECK-LABEL: func.func @prefill_window
// CHECK: cv.graph.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = true, scale = 2.500000e-01 : f64, sliding_window = 1000 : i64}
func.func @prefill_window(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %kt = cv.graph.transpose %k, [0, 1, 3, 2] : tensor<1x2x?x16xf32> -> tensor<1x2x16x?xf32>
  %s = cv.graph.matmul %q, %kt : (tensor<1x2x?x16xf32>, tensor<1x2x16x?xf32>) -> tensor<1x2x?x?xf32>
  %c = cv.graph.constant dense<0.25> : tensor<f32> : tensor<f32>
  %scaled = cv.graph.mul %s, %c : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %keys = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  %queries = cv.graph.reshape %keys {cv.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %future = cv.graph.less %queries, %keys : (tensor<?x1xi64>, tensor<?xi64>) -> tensor<?x?xi1>
  %w1 = cv.graph.constant dense<999> : tensor<i64> : tensor<i64>
  %oldest = cv.graph.sub %queries, %w1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %tooOld = cv.graph.less %keys, %oldest : (tensor<?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %hidden = cv.graph.or %future, %tooOld : (tensor<?x?xi1>, tensor<?x?xi1>) -> tensor<?x?xi1>
  %lowest = cv.graph.constant dense<-3.40282347E+38> : tensor<f32> : tensor<f32>
  %zero = cv.graph.constant dense<0.0> : tensor<f32> : tensor<f32>
  %mask = cv.graph.where %hidden, %lowest, %zero : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %masked = cv.graph.add %scaled, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = cv.graph.softmax %masked : tensor<1x2x?x?xf32>
  %o = cv.graph.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
