// conveyor-graph-fuse-transformer turns embedding lookups, gated MLPs (SwiGLU / GeGLU)
// and the LM head into cv.graph.embedding / gated_mlp / lm_head, and leaves partial
// matches alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-transformer | FileCheck %s
// On a real export (torch 1.13, Llama-style block): the whole block after norm and
// activation fusion.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=LLAMA --implicit-check-not=cv.graph.silu --implicit-check-not=cv.graph.gather
// LLAMA: func.func @main(%[[IDS:[^:]*]]: tensor<1x5xi64>
// LLAMA: %[[EMB:.*]] = cv.graph.embedding %{{.*}}, %[[IDS]] : (tensor<40x16xf32>, tensor<1x5xi64>) -> tensor<1x5x16xf32>
// LLAMA: cv.graph.attention {{.*}}causal = true
// LLAMA: %[[NORM:.*]] = cv.graph.rms_norm
// LLAMA-NEXT: %[[MLP:.*]] = cv.graph.gated_mlp %[[NORM]], %{{.*}}, %{{.*}}, %{{.*}} {activation = "silu"} : (tensor<1x5x16xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<1x5x16xf32>
// LLAMA: %[[LOGITS:.*]] = cv.graph.lm_head %{{.*}}, %{{.*}} : (tensor<1x5x16xf32>, tensor<16x40xf32>) -> tensor<1x5x40xf32>
// LLAMA-NEXT: return %[[LOGITS]]
// GPT-2's MLP is not gated: gelu stays, only embedding and LM head fuse.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_gpt2.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=GPT2 --implicit-check-not=cv.graph.gated_mlp
// GPT2: cv.graph.embedding
// GPT2: cv.graph.gelu
// GPT2: cv.graph.lm_head

// SwiGLU as Llama exports it: silu(x @ Wg) * (x @ Wu) @ Wd.
// CHECK-LABEL: func.func @swiglu
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x8xf32>, %[[WG:[^:]*]]: tensor<8x16xf32>, %[[WU:[^:]*]]: tensor<8x16xf32>, %[[WD:[^:]*]]: tensor<16x8xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.gated_mlp %[[X]], %[[WG]], %[[WU]], %[[WD]] {activation = "silu"} : (tensor<2x3x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<2x3x8xf32>
// CHECK-NEXT: cv.graph.add %[[Y]], %[[X]]
func.func @swiglu(%x: tensor<2x3x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<2x3x8xf32> {
  %g = cv.graph.matmul %x, %wg : (tensor<2x3x8xf32>, tensor<8x16xf32>) -> tensor<2x3x16xf32>
  %a = cv.graph.silu %g : tensor<2x3x16xf32>
  %u = cv.graph.matmul %x, %wu : (tensor<2x3x8xf32>, tensor<8x16xf32>) -> tensor<2x3x16xf32>
  %p = cv.graph.mul %a, %u : (tensor<2x3x16xf32>, tensor<2x3x16xf32>) -> tensor<2x3x16xf32>
  %y = cv.graph.matmul %p, %wd : (tensor<2x3x16xf32>, tensor<16x8xf32>) -> tensor<2x3x8xf32>
  %z = cv.graph.add %y, %x : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %z : tensor<2x3x8xf32>
}

// -----

// GeGLU with the product written up * gelu(gate), tanh form; down projection widens.
// CHECK-LABEL: func.func @geglu_tanh_swapped
// CHECK-NEXT: %[[Y:.*]] = cv.graph.gated_mlp %{{.*}} {activation = "gelu_tanh"} : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x12xf32>) -> tensor<4x12xf32>
// CHECK-NEXT: cv.graph.relu %[[Y]]
func.func @geglu_tanh_swapped(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>, %wd: tensor<16x12xf32>) -> tensor<4x12xf32> {
  %g = cv.graph.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %a = cv.graph.gelu %g {approximate = "tanh"} : tensor<4x16xf32>
  %u = cv.graph.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %p = cv.graph.mul %u, %a : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = cv.graph.matmul %p, %wd : (tensor<4x16xf32>, tensor<16x12xf32>) -> tensor<4x12xf32>
  %r = cv.graph.relu %y : tensor<4x12xf32>
  return %r : tensor<4x12xf32>
}

// -----

// Gate and up read different inputs: not a gated MLP.
// CHECK-LABEL: func.func @different_inputs
// CHECK-NOT: cv.graph.gated_mlp
// CHECK: cv.graph.silu
func.func @different_inputs(%x: tensor<4x8xf32>, %x2: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<4x8xf32> {
  %g = cv.graph.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %a = cv.graph.silu %g : tensor<4x16xf32>
  %u = cv.graph.matmul %x2, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %p = cv.graph.mul %a, %u : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = cv.graph.matmul %p, %wd : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %r = cv.graph.relu %y : tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// The activation is also used elsewhere: fusing would lose it, so nothing changes.
// CHECK-LABEL: func.func @activation_escapes
// CHECK-NOT: cv.graph.gated_mlp
// CHECK: %[[A:.*]] = cv.graph.silu
// CHECK: return %{{.*}}, %[[A]]
func.func @activation_escapes(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> (tensor<4x8xf32>, tensor<4x16xf32>) {
  %g = cv.graph.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %a = cv.graph.silu %g : tensor<4x16xf32>
  %u = cv.graph.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %p = cv.graph.mul %a, %u : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = cv.graph.matmul %p, %wd : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %r = cv.graph.relu %y : tensor<4x8xf32>
  return %r, %a : tensor<4x8xf32>, tensor<4x16xf32>
}

// -----

// Embedding: a gather of caller-supplied token ids from a 2-D table. A gather at
// computed positions (rotary tables) stays a gather. LM head: the matmul returned as
// logits; a matmul with other users stays.
// CHECK-LABEL: func.func @embedding_and_head
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<?x5xi64>
// CHECK: %[[TABLE:.*]] = cv.graph.weight {name = "embed"} : tensor<40x16xf32>
// CHECK: %[[EMB:.*]] = cv.graph.embedding %[[TABLE]], %[[IDS]] : (tensor<40x16xf32>, tensor<?x5xi64>) -> tensor<?x5x16xf32>
// CHECK: cv.graph.gather %{{.*}}, %{{.*}} : (tensor<32x16xf32>, tensor<5xi64>) -> tensor<5x16xf32>
// CHECK: %[[KEEP:.*]] = cv.graph.matmul
// CHECK: %[[HEAD:.*]] = cv.graph.lm_head %{{.*}}, %{{.*}} : (tensor<?x5x16xf32>, tensor<16x40xf32>) -> tensor<?x5x40xf32>
// CHECK: return %[[HEAD]], %[[KEEP]]
func.func @embedding_and_head(%ids: tensor<?x5xi64>, %pos: tensor<5xi64>) -> (tensor<?x5x40xf32>, tensor<?x5x40xf32>) {
  %table = cv.graph.weight {name = "embed"} : tensor<40x16xf32>
  %rope = cv.graph.weight {name = "rope"} : tensor<32x16xf32>
  %head = cv.graph.weight {name = "head"} : tensor<16x40xf32>
  %e = cv.graph.gather %table, %ids : (tensor<40x16xf32>, tensor<?x5xi64>) -> tensor<?x5x16xf32>
  %one = cv.graph.constant dense<1> : tensor<i64> : tensor<i64>
  %shifted = cv.graph.add %pos, %one : (tensor<5xi64>, tensor<i64>) -> tensor<5xi64>
  %r = cv.graph.gather %rope, %shifted : (tensor<32x16xf32>, tensor<5xi64>) -> tensor<5x16xf32>
  %h = cv.graph.add %e, %r : (tensor<?x5x16xf32>, tensor<5x16xf32>) -> tensor<?x5x16xf32>
  %keep = cv.graph.matmul %h, %head : (tensor<?x5x16xf32>, tensor<16x40xf32>) -> tensor<?x5x40xf32>
  %twice = cv.graph.add %keep, %keep : (tensor<?x5x40xf32>, tensor<?x5x40xf32>) -> tensor<?x5x40xf32>
  %logits = cv.graph.matmul %h, %head : (tensor<?x5x16xf32>, tensor<16x40xf32>) -> tensor<?x5x40xf32>
  return %logits, %keep : tensor<?x5x40xf32>, tensor<?x5x40xf32>
}

// -----

// A tied LM head reads the embedding table through a transpose: a shape-only table gets
// its own transposed copy (the layout the MXM installs; the shard pass splits it by
// vocabulary columns), marked as a copy so parameter counts count the table once.
// CHECK-LABEL: func.func @tied_head
// CHECK: %[[TABLE:.*]] = cv.graph.weight {name = "embed"} : tensor<40x16xf32>
// CHECK: cv.graph.embedding %[[TABLE]]
// CHECK-NOT: cv.graph.transpose
// CHECK: %[[COPY:.*]] = cv.graph.weight {cv.tied_copy_of = "embed", name = "embed.lm_head_t"} : tensor<16x40xf32>
// CHECK-NEXT: %[[HEAD:.*]] = cv.graph.lm_head %{{.*}}, %[[COPY]] : (tensor<1x5x16xf32>, tensor<16x40xf32>) -> tensor<1x5x40xf32>
// CHECK: return %[[HEAD]]
func.func @tied_head(%ids: tensor<1x5xi64>) -> tensor<1x5x40xf32> {
  %table = cv.graph.weight {name = "embed"} : tensor<40x16xf32>
  %x = cv.graph.gather %table, %ids {axis = 0 : i64} : (tensor<40x16xf32>, tensor<1x5xi64>) -> tensor<1x5x16xf32>
  %t = cv.graph.transpose %table, [1, 0] : tensor<40x16xf32> -> tensor<16x40xf32>
  %logits = cv.graph.matmul %x, %t : (tensor<1x5x16xf32>, tensor<16x40xf32>) -> tensor<1x5x40xf32>
  return %logits : tensor<1x5x40xf32>
}
