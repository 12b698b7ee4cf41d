// conveyor-graph-fuse-transformer turns rotate-half rotary embeddings
// (x * cos + concat(-x[..., d/2:], x[..., :d/2]) * sin) into cv.graph.rotary, and leaves
// chains that compute something else alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-transformer | FileCheck %s
// On a real export (torch 1.13, Llama-style GQA block): q and k each get one rotary, the
// rotated k feeds the KV-cache concat.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama.onnx | conveyor-opt -conveyor-graph-fuse-norms -conveyor-graph-fuse-activations -conveyor-graph-fuse-transformer | FileCheck %s --check-prefix=TORCH --implicit-check-not=cv.graph.neg
// TORCH: %[[Q:.*]] = cv.graph.rotary %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x4x5x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>) -> tensor<1x4x5x4xf32>
// TORCH: %[[K:.*]] = cv.graph.rotary %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x2x5x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>) -> tensor<1x2x5x4xf32>
// TORCH-NEXT: cv.graph.concat %{{.*}}, %[[K]] {axis = 2 : i64}
// The zoo's Llama-2-7B: one rotary for q and one for k in each of the 32 layers.
// RUN: conveyor-translate --import-onnx %models/zoo/onnx/llama2-7b.onnx | conveyor-opt -conveyor-graph-fuse-transformer | grep -c "cv.graph.rotary " | FileCheck %s --check-prefix=ZOO
// ZOO: {{^}}64{{$}}

// As the zoo's Llama-2 exports it: dynamic batch / seq, cos and sin shared by q and k.
// CHECK-LABEL: func.func @llama_q_and_k
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x32x?x128xf32>, %[[K:[^:]*]]: tensor<?x32x?x128xf32>, %[[COS:[^:]*]]: tensor<?x128xf32>, %[[SIN:[^:]*]]: tensor<?x128xf32>)
// CHECK-NEXT: %[[RQ:.*]] = cv.graph.rotary %[[Q]], %[[COS]], %[[SIN]] : (tensor<?x32x?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
// CHECK-NEXT: %[[RK:.*]] = cv.graph.rotary %[[K]], %[[COS]], %[[SIN]] : (tensor<?x32x?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
// CHECK-NEXT: return %[[RQ]], %[[RK]]
func.func @llama_q_and_k(%q: tensor<?x32x?x128xf32>, %k: tensor<?x32x?x128xf32>, %cos: tensor<?x128xf32>, %sin: tensor<?x128xf32>) -> (tensor<?x32x?x128xf32>, tensor<?x32x?x128xf32>) {
  %0 = cv.graph.slice %q {axes = array<i64: 3>, sizes = array<i64: 64>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<?x32x?x128xf32> -> tensor<?x32x?x64xf32>
  %1 = cv.graph.slice %q {axes = array<i64: 3>, sizes = array<i64: 64>, starts = array<i64: 64>, steps = array<i64: 1>} : tensor<?x32x?x128xf32> -> tensor<?x32x?x64xf32>
  %2 = cv.graph.neg %1 : tensor<?x32x?x64xf32>
  %3 = cv.graph.concat %2, %0 {axis = 3 : i64} : (tensor<?x32x?x64xf32>, tensor<?x32x?x64xf32>) -> tensor<?x32x?x128xf32>
  %4 = cv.graph.mul %q, %cos : (tensor<?x32x?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
  %5 = cv.graph.mul %3, %sin : (tensor<?x32x?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
  %6 = cv.graph.add %4, %5 : (tensor<?x32x?x128xf32>, tensor<?x32x?x128xf32>) -> tensor<?x32x?x128xf32>
  %7 = cv.graph.slice %k {axes = array<i64: 3>, sizes = array<i64: 64>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<?x32x?x128xf32> -> tensor<?x32x?x64xf32>
  %8 = cv.graph.slice %k {axes = array<i64: 3>, sizes = array<i64: 64>, starts = array<i64: 64>, steps = array<i64: 1>} : tensor<?x32x?x128xf32> -> tensor<?x32x?x64xf32>
  %9 = cv.graph.neg %8 : tensor<?x32x?x64xf32>
  %10 = cv.graph.concat %9, %7 {axis = 3 : i64} : (tensor<?x32x?x64xf32>, tensor<?x32x?x64xf32>) -> tensor<?x32x?x128xf32>
  %11 = cv.graph.mul %k, %cos : (tensor<?x32x?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
  %12 = cv.graph.mul %10, %sin : (tensor<?x32x?x128xf32>, tensor<?x128xf32>) -> tensor<?x32x?x128xf32>
  %13 = cv.graph.add %11, %12 : (tensor<?x32x?x128xf32>, tensor<?x32x?x128xf32>) -> tensor<?x32x?x128xf32>
  return %6, %13 : tensor<?x32x?x128xf32>, tensor<?x32x?x128xf32>
}

// -----

// Every product and the sum written the other way round still fuses.
// CHECK-LABEL: func.func @commuted
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x8xf32>, %[[COS:[^:]*]]: tensor<3x8xf32>, %[[SIN:[^:]*]]: tensor<3x8xf32>)
// CHECK-NEXT: %[[R:.*]] = cv.graph.rotary %[[X]], %[[COS]], %[[SIN]]
// CHECK-NEXT: return %[[R]]
func.func @commuted(%x: tensor<2x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<2x3x8xf32> {
  %lo = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %hi = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 4>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %n = cv.graph.neg %hi : tensor<2x3x4xf32>
  %r = cv.graph.concat %n, %lo {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  %a = cv.graph.mul %cos, %x : (tensor<3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %b = cv.graph.mul %sin, %r : (tensor<3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %y = cv.graph.add %b, %a : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// The halves swapped (concat(-lo, hi)) rotate the other way: not fused.
// CHECK-LABEL: func.func @wrong_rotation
// CHECK-NOT: cv.graph.rotary
// CHECK: cv.graph.neg
func.func @wrong_rotation(%x: tensor<2x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<2x3x8xf32> {
  %lo = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %hi = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 4>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %n = cv.graph.neg %lo : tensor<2x3x4xf32>
  %r = cv.graph.concat %n, %hi {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  %a = cv.graph.mul %x, %cos : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %b = cv.graph.mul %r, %sin : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %y = cv.graph.add %a, %b : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// The rotated halves come from another tensor than the one multiplied by cos: not fused.
// CHECK-LABEL: func.func @two_tensors
// CHECK-NOT: cv.graph.rotary
// CHECK: cv.graph.concat
func.func @two_tensors(%x: tensor<2x3x8xf32>, %z: tensor<2x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<2x3x8xf32> {
  %lo = cv.graph.slice %z {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %hi = cv.graph.slice %z {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 4>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %n = cv.graph.neg %hi : tensor<2x3x4xf32>
  %r = cv.graph.concat %n, %lo {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  %a = cv.graph.mul %x, %cos : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %b = cv.graph.mul %r, %sin : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %y = cv.graph.add %a, %b : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// The rotated half is also returned: fusing would have to keep it, so nothing changes.
// CHECK-LABEL: func.func @inner_value_used
// CHECK-NOT: cv.graph.rotary
// CHECK: cv.graph.add
func.func @inner_value_used(%x: tensor<2x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> (tensor<2x3x8xf32>, tensor<2x3x8xf32>) {
  %lo = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %hi = cv.graph.slice %x {axes = array<i64: 2>, sizes = array<i64: 4>, starts = array<i64: 4>, steps = array<i64: 1>} : tensor<2x3x8xf32> -> tensor<2x3x4xf32>
  %n = cv.graph.neg %hi : tensor<2x3x4xf32>
  %r = cv.graph.concat %n, %lo {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  %a = cv.graph.mul %x, %cos : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %b = cv.graph.mul %r, %sin : (tensor<2x3x8xf32>, tensor<3x8xf32>) -> tensor<2x3x8xf32>
  %y = cv.graph.add %a, %b : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y, %r : tensor<2x3x8xf32>, tensor<2x3x8xf32>
}

// -----

// cos broadcasts x to a larger shape: the chain's result is not x's shape, not fused.
// CHECK-LABEL: func.func @broadcast_enlarges
// CHECK-NOT: cv.graph.rotary
// CHECK: cv.graph.add
func.func @broadcast_enlarges(%x: tensor<3x8xf32>, %cos: tensor<2x3x8xf32>, %sin: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  %lo = cv.graph.slice %x {axes = array<i64: 1>, sizes = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : tensor<3x8xf32> -> tensor<3x4xf32>
  %hi = cv.graph.slice %x {axes = array<i64: 1>, sizes = array<i64: 4>, starts = array<i64: 4>, steps = array<i64: 1>} : tensor<3x8xf32> -> tensor<3x4xf32>
  %n = cv.graph.neg %hi : tensor<3x4xf32>
  %r = cv.graph.concat %n, %lo {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x8xf32>
  %a = cv.graph.mul %x, %cos : (tensor<3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %b = cv.graph.mul %r, %sin : (tensor<3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %y = cv.graph.add %a, %b : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}
