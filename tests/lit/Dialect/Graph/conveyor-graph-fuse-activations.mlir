// conveyor-graph-fuse-activations turns decomposed GELU (exact and tanh forms) and SiLU
// into cv.graph.gelu / cv.graph.silu and leaves look-alikes alone.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-activations | FileCheck %s
// On real exports: GPT-2's NewGELU becomes a tanh GELU, Llama's F.silu a SiLU.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_gpt2.onnx | conveyor-opt -conveyor-graph-fuse-activations | FileCheck %s --check-prefix=GPT2 --implicit-check-not=cv.graph.tanh --implicit-check-not=cv.graph.pow
// GPT2: cv.graph.gelu %{{.*}} {approximate = "tanh"} : tensor<1x6x64xf32>
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama.onnx | conveyor-opt -conveyor-graph-fuse-activations | FileCheck %s --check-prefix=LLAMA --implicit-check-not=cv.graph.sigmoid
// LLAMA: %[[GATE:.*]] = cv.graph.matmul %{{.*}} -> tensor<1x5x32xf32>
// LLAMA-NEXT: %[[SILU:.*]] = cv.graph.silu %[[GATE]] : tensor<1x5x32xf32>
// LLAMA-NEXT: %[[UP:.*]] = cv.graph.matmul
// LLAMA-NEXT: cv.graph.mul %[[SILU]], %[[UP]]

// torch.nn.functional.gelu as torch 1.13 exports it: (x * (erf(x / sqrt 2) + 1)) * 0.5.
// CHECK-LABEL: func.func @gelu_erf
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.gelu %[[X]] : tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_erf(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = cv.graph.constant dense<1.41421354> : tensor<f32> : tensor<f32>
  %one = cv.graph.constant dense<1.0> : tensor<f32> : tensor<f32>
  %half = cv.graph.constant dense<0.5> : tensor<f32> : tensor<f32>
  %0 = cv.graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = cv.graph.erf %0 : tensor<2x8xf32>
  %2 = cv.graph.add %1, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = cv.graph.mul %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = cv.graph.mul %3, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// The tanh approximation, F.gelu(approximate="tanh") style: x * x * x, constants first.
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf16>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.gelu %[[X]] {approximate = "tanh"} : tensor<2x8xf16>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_tanh(%x: tensor<2x8xf16>) -> tensor<2x8xf16> {
  %c = cv.graph.constant dense<0.044715> : tensor<f16> : tensor<f16>
  %k = cv.graph.constant dense<0.797884583> : tensor<f16> : tensor<f16>
  %one = cv.graph.constant dense<1.0> : tensor<f16> : tensor<f16>
  %half = cv.graph.constant dense<0.5> : tensor<f16> : tensor<f16>
  %sq = cv.graph.mul %x, %x : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %cube = cv.graph.mul %x, %sq : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %t = cv.graph.mul %c, %cube : (tensor<f16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %inner = cv.graph.add %x, %t : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %arg = cv.graph.mul %k, %inner : (tensor<f16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %th = cv.graph.tanh %arg : tensor<2x8xf16>
  %onep = cv.graph.add %one, %th : (tensor<f16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %xp = cv.graph.mul %x, %onep : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %y = cv.graph.mul %half, %xp : (tensor<f16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  return %y : tensor<2x8xf16>
}

// -----

// SiLU in both operand orders; the sigmoid stays when something else uses it.
// CHECK-LABEL: func.func @silu
// CHECK-SAME: (%[[X:.*]]: tensor<4x32xf32>)
// CHECK-NEXT: %[[S:.*]] = cv.graph.sigmoid %[[X]]
// CHECK-NEXT: %[[A:.*]] = cv.graph.silu %[[X]] : tensor<4x32xf32>
// CHECK-NEXT: %[[B:.*]] = cv.graph.silu %[[X]] : tensor<4x32xf32>
// CHECK-NEXT: return %[[A]], %[[B]], %[[S]]
func.func @silu(%x: tensor<4x32xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %s = cv.graph.sigmoid %x : tensor<4x32xf32>
  %a = cv.graph.mul %x, %s : (tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<4x32xf32>
  %b = cv.graph.mul %s, %x : (tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<4x32xf32>
  return %a, %b, %s : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

// Look-alikes: a wrong half (0.4), erf of x / 2, the tanh form with a wrong cubic
// coefficient, sigmoid of another tensor.
// CHECK-LABEL: func.func @not_activations
// CHECK-NOT: cv.graph.gelu
// CHECK-NOT: cv.graph.silu
// CHECK: return
func.func @not_activations(%x: tensor<8xf32>, %z: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %sqrt2 = cv.graph.constant dense<1.41421354> : tensor<f32> : tensor<f32>
  %two = cv.graph.constant dense<2.0> : tensor<f32> : tensor<f32>
  %one = cv.graph.constant dense<1.0> : tensor<f32> : tensor<f32>
  %wrong_half = cv.graph.constant dense<0.4> : tensor<f32> : tensor<f32>
  %half = cv.graph.constant dense<0.5> : tensor<f32> : tensor<f32>
  %0 = cv.graph.div %x, %sqrt2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = cv.graph.erf %0 : tensor<8xf32>
  %2 = cv.graph.add %1, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %3 = cv.graph.mul %x, %2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %a = cv.graph.mul %3, %wrong_half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %4 = cv.graph.div %x, %two : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %5 = cv.graph.erf %4 : tensor<8xf32>
  %6 = cv.graph.add %5, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %7 = cv.graph.mul %x, %6 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %b = cv.graph.mul %7, %half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %c1 = cv.graph.constant dense<0.5> : tensor<f32> : tensor<f32>
  %k = cv.graph.constant dense<0.797884583> : tensor<f32> : tensor<f32>
  %three = cv.graph.constant dense<3.0> : tensor<f32> : tensor<f32>
  %cube = cv.graph.pow %x, %three : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %t = cv.graph.mul %cube, %c1 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %inner = cv.graph.add %x, %t : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %arg = cv.graph.mul %inner, %k : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %th = cv.graph.tanh %arg : tensor<8xf32>
  %onep = cv.graph.add %th, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %hx = cv.graph.mul %x, %half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %c = cv.graph.mul %hx, %onep : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %s = cv.graph.sigmoid %z : tensor<8xf32>
  %d = cv.graph.mul %x, %s : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %a, %b, %c, %d : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
