// conveyor-graph-fuse-norms replaces decomposed RMSNorm and LayerNorm chains by one op,
// leaves chains that only look similar alone, and keeps intermediates other ops use.
// RUN: conveyor-opt %s -split-input-file -conveyor-graph-fuse-norms | FileCheck %s
// The real thing: the three RMSNorms of a torch-exported Llama block, static and with
// dynamic axes, and the pieces they were made of are gone.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama.onnx | conveyor-opt -conveyor-graph-fuse-norms | FileCheck %s --check-prefix=LLAMA --implicit-check-not=cv.graph.reduce_mean --implicit-check-not=cv.graph.sqrt --implicit-check-not=cv.graph.pow
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama_dynamic.onnx | conveyor-opt -conveyor-graph-fuse-norms | FileCheck %s --check-prefix=LLAMA --implicit-check-not=cv.graph.reduce_mean --implicit-check-not=cv.graph.sqrt --implicit-check-not=cv.graph.pow
// LLAMA-COUNT-3: cv.graph.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32} : (tensor<{{.*}}x16xf32>, tensor<16xf32>) -> tensor<{{.*}}x16xf32>

// Llama's RMSNorm as torch exports it: w * (x * (1 / sqrt(mean(x^2) + eps))).
// CHECK-LABEL: func.func @llama_rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.rms_norm %[[X]], %[[W]] {epsilon = 9.99999997E-7 : f32} : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
// CHECK-NEXT: return %[[Y]]
func.func @llama_rms_norm(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %two = cv.graph.constant dense<2.0> : tensor<f32> : tensor<f32>
  %eps = cv.graph.constant dense<1.0e-6> : tensor<f32> : tensor<f32>
  %one = cv.graph.constant dense<1.0> : tensor<f32> : tensor<f32>
  %sq = cv.graph.pow %x, %two : (tensor<2x8x64xf32>, tensor<f32>) -> tensor<2x8x64xf32>
  %ms = cv.graph.reduce_mean %sq, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %v = cv.graph.add %ms, %eps : (tensor<2x8x1xf32>, tensor<f32>) -> tensor<2x8x1xf32>
  %r = cv.graph.sqrt %v : tensor<2x8x1xf32>
  %inv = cv.graph.div %one, %r : (tensor<f32>, tensor<2x8x1xf32>) -> tensor<2x8x1xf32>
  %n = cv.graph.mul %x, %inv : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %y = cv.graph.mul %w, %n : (tensor<64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return %y : tensor<2x8x64xf32>
}

// -----

// Other spellings (eps is 1e-5 rounded to f16): x * x, eps on the left, x / sqrt(...), the scale on the right, and a
// mean over the two trailing dimensions (axis -2).
// CHECK-LABEL: func.func @rms_norm_variants
// CHECK-SAME: (%[[X:.*]]: tensor<4x8x16xf16>, %[[W:.*]]: tensor<8x16xf16>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.rms_norm %[[X]], %[[W]] {axis = -2 : i64, epsilon = 1.00135803E-5 : f32} : (tensor<4x8x16xf16>, tensor<8x16xf16>) -> tensor<4x8x16xf16>
// CHECK-NEXT: return %[[Y]]
func.func @rms_norm_variants(%x: tensor<4x8x16xf16>, %w: tensor<8x16xf16>) -> tensor<4x8x16xf16> {
  %eps = cv.graph.constant dense<1.0e-5> : tensor<1xf16> : tensor<1xf16>
  %sq = cv.graph.mul %x, %x : (tensor<4x8x16xf16>, tensor<4x8x16xf16>) -> tensor<4x8x16xf16>
  %ms = cv.graph.reduce_mean %sq, [1, 2] : tensor<4x8x16xf16> -> tensor<4x1x1xf16>
  %v = cv.graph.add %eps, %ms : (tensor<1xf16>, tensor<4x1x1xf16>) -> tensor<4x1x1xf16>
  %r = cv.graph.sqrt %v : tensor<4x1x1xf16>
  %n = cv.graph.div %x, %r : (tensor<4x8x16xf16>, tensor<4x1x1xf16>) -> tensor<4x8x16xf16>
  %y = cv.graph.mul %n, %w : (tensor<4x8x16xf16>, tensor<8x16xf16>) -> tensor<4x8x16xf16>
  return %y : tensor<4x8x16xf16>
}

// -----

// reciprocal(sqrt(...)) as the inverse, and an intermediate (the mean of squares) that
// another op uses: it stays, the rest of the chain goes.
// CHECK-LABEL: func.func @rms_norm_shared_intermediate
// CHECK: %[[MS:.*]] = cv.graph.reduce_mean
// CHECK: %[[Y:.*]] = cv.graph.rms_norm %{{.*}}, %{{.*}} : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
// CHECK-NOT: cv.graph.sqrt
// CHECK-NOT: cv.graph.reciprocal
// CHECK: return %[[Y]], %[[MS]]
func.func @rms_norm_shared_intermediate(%x: tensor<8x64xf32>, %w: tensor<64xf32>) -> (tensor<8x64xf32>, tensor<8x1xf32>) {
  %two = cv.graph.constant dense<2.0> : tensor<f32> : tensor<f32>
  %eps = cv.graph.constant dense<1.0e-5> : tensor<f32> : tensor<f32>
  %sq = cv.graph.pow %x, %two : (tensor<8x64xf32>, tensor<f32>) -> tensor<8x64xf32>
  %ms = cv.graph.reduce_mean %sq, [1] : tensor<8x64xf32> -> tensor<8x1xf32>
  %v = cv.graph.add %ms, %eps : (tensor<8x1xf32>, tensor<f32>) -> tensor<8x1xf32>
  %r = cv.graph.sqrt %v : tensor<8x1xf32>
  %inv = cv.graph.reciprocal %r : tensor<8x1xf32>
  %n = cv.graph.mul %inv, %x : (tensor<8x1xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  %y = cv.graph.mul %n, %w : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  return %y, %ms : tensor<8x64xf32>, tensor<8x1xf32>
}

// -----

// Look-alikes that are not RMSNorm stay as they are: a mean over a leading axis, an
// exponent of 3, an eps that is not a constant, a different tensor in the numerator, a
// scale that would broadcast the result to a bigger shape.
// CHECK-LABEL: func.func @not_rms_norm
// CHECK-NOT: cv.graph.rms_norm
// CHECK: return
func.func @not_rms_norm(%x: tensor<8x64xf32>, %other: tensor<8x64xf32>, %w: tensor<64xf32>, %eps_in: tensor<f32>, %big: tensor<2x8x64xf32>)
    -> (tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>, tensor<2x8x64xf32>) {
  %two = cv.graph.constant dense<2.0> : tensor<f32> : tensor<f32>
  %three = cv.graph.constant dense<3.0> : tensor<f32> : tensor<f32>
  %eps = cv.graph.constant dense<1.0e-5> : tensor<f32> : tensor<f32>
  %sq = cv.graph.pow %x, %two : (tensor<8x64xf32>, tensor<f32>) -> tensor<8x64xf32>
  // Mean over axis 0.
  %m0 = cv.graph.reduce_mean %sq, [0] : tensor<8x64xf32> -> tensor<1x64xf32>
  %v0 = cv.graph.add %m0, %eps : (tensor<1x64xf32>, tensor<f32>) -> tensor<1x64xf32>
  %r0 = cv.graph.sqrt %v0 : tensor<1x64xf32>
  %n0 = cv.graph.div %x, %r0 : (tensor<8x64xf32>, tensor<1x64xf32>) -> tensor<8x64xf32>
  %y0 = cv.graph.mul %n0, %w : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  // Cube.
  %cube = cv.graph.pow %x, %three : (tensor<8x64xf32>, tensor<f32>) -> tensor<8x64xf32>
  %m1 = cv.graph.reduce_mean %cube, [1] : tensor<8x64xf32> -> tensor<8x1xf32>
  %v1 = cv.graph.add %m1, %eps : (tensor<8x1xf32>, tensor<f32>) -> tensor<8x1xf32>
  %r1 = cv.graph.sqrt %v1 : tensor<8x1xf32>
  %n1 = cv.graph.div %x, %r1 : (tensor<8x64xf32>, tensor<8x1xf32>) -> tensor<8x64xf32>
  %y1 = cv.graph.mul %n1, %w : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  // Run-time eps.
  %m2 = cv.graph.reduce_mean %sq, [1] : tensor<8x64xf32> -> tensor<8x1xf32>
  %v2 = cv.graph.add %m2, %eps_in : (tensor<8x1xf32>, tensor<f32>) -> tensor<8x1xf32>
  %r2 = cv.graph.sqrt %v2 : tensor<8x1xf32>
  %n2 = cv.graph.div %x, %r2 : (tensor<8x64xf32>, tensor<8x1xf32>) -> tensor<8x64xf32>
  %y2 = cv.graph.mul %n2, %w : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  // Another tensor divided by x's RMS.
  %v3 = cv.graph.add %m2, %eps : (tensor<8x1xf32>, tensor<f32>) -> tensor<8x1xf32>
  %r3 = cv.graph.sqrt %v3 : tensor<8x1xf32>
  %n3 = cv.graph.div %other, %r3 : (tensor<8x64xf32>, tensor<8x1xf32>) -> tensor<8x64xf32>
  %y3 = cv.graph.mul %n3, %w : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  // A "scale" that grows the result.
  %n4 = cv.graph.div %x, %r3 : (tensor<8x64xf32>, tensor<8x1xf32>) -> tensor<8x64xf32>
  %y4 = cv.graph.mul %n4, %big : (tensor<8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return %y0, %y1, %y2, %y3, %y4 : tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>, tensor<2x8x64xf32>
}

// -----

// LayerNorm decomposed (opset < 17 exports, hand-written modules): with a bias add, and
// without one.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>, %[[G:.*]]: tensor<64xf32>, %[[B:.*]]: tensor<64xf32>)
// CHECK-NEXT: %[[Y:.*]] = cv.graph.layer_norm %[[X]], %[[G]], %[[B]] : (tensor<2x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
// CHECK-NEXT: %[[Z:.*]] = cv.graph.layer_norm %[[Y]], %[[G]] {epsilon = 9.99999996E-13 : f32} : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
// CHECK-NEXT: return %[[Z]]
func.func @layer_norm(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %two = cv.graph.constant dense<2.0> : tensor<f32> : tensor<f32>
  %eps = cv.graph.constant dense<1.0e-5> : tensor<f32> : tensor<f32>
  %mean = cv.graph.reduce_mean %x, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %d = cv.graph.sub %x, %mean : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %sq = cv.graph.pow %d, %two : (tensor<2x8x64xf32>, tensor<f32>) -> tensor<2x8x64xf32>
  %var = cv.graph.reduce_mean %sq, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %ve = cv.graph.add %var, %eps : (tensor<2x8x1xf32>, tensor<f32>) -> tensor<2x8x1xf32>
  %std = cv.graph.sqrt %ve : tensor<2x8x1xf32>
  %n = cv.graph.div %d, %std : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %scaled = cv.graph.mul %n, %g : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %y = cv.graph.add %scaled, %b : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %eps2 = cv.graph.constant dense<1.0e-12> : tensor<f32> : tensor<f32>
  %mean2 = cv.graph.reduce_mean %y, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %d2 = cv.graph.sub %y, %mean2 : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %sq2 = cv.graph.mul %d2, %d2 : (tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  %var2 = cv.graph.reduce_mean %sq2, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %ve2 = cv.graph.add %eps2, %var2 : (tensor<f32>, tensor<2x8x1xf32>) -> tensor<2x8x1xf32>
  %std2 = cv.graph.sqrt %ve2 : tensor<2x8x1xf32>
  %n2 = cv.graph.div %d2, %std2 : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %z = cv.graph.mul %g, %n2 : (tensor<64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return %z : tensor<2x8x64xf32>
}

// -----

// Centred on a different mean (axis 1 vs the variance's axis 2): not a LayerNorm.
// CHECK-LABEL: func.func @not_layer_norm
// CHECK-NOT: cv.graph.layer_norm
// CHECK: return
func.func @not_layer_norm(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %eps = cv.graph.constant dense<1.0e-5> : tensor<f32> : tensor<f32>
  %mean = cv.graph.reduce_mean %x, [1] : tensor<2x8x64xf32> -> tensor<2x1x64xf32>
  %d = cv.graph.sub %x, %mean : (tensor<2x8x64xf32>, tensor<2x1x64xf32>) -> tensor<2x8x64xf32>
  %sq = cv.graph.mul %d, %d : (tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  %var = cv.graph.reduce_mean %sq, [2] : tensor<2x8x64xf32> -> tensor<2x8x1xf32>
  %ve = cv.graph.add %var, %eps : (tensor<2x8x1xf32>, tensor<f32>) -> tensor<2x8x1xf32>
  %std = cv.graph.sqrt %ve : tensor<2x8x1xf32>
  %n = cv.graph.div %d, %std : (tensor<2x8x64xf32>, tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %y = cv.graph.mul %n, %g : (tensor<2x8x64xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  return %y : tensor<2x8x64xf32>
}
