// conveyor-graph-specialize-dims binds named dimensions to sizes: arguments named in
// cv.dim_names become static, reshapes/expands take their sizes from cv.dims, other
// ops re-infer their types, and dim_value/iota become constants.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics "-conveyor-graph-specialize-dims=sizes=batch=2,seq=3,past=4" | FileCheck %s
// A dynamic-axis torch export, specialised to the sizes of its static twin, has the
// twin's signature and passes the lowering's static-shape check.
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama_dynamic.onnx | conveyor-opt "-conveyor-graph-specialize-dims=sizes=batch=1,seq=5,past=3" -conveyor-graph-verify-shapes | FileCheck %s --check-prefix=LLAMA
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_llama.onnx | FileCheck %s --check-prefix=LLAMA
// LLAMA: func.func @main(%{{[^:]*}}: tensor<1x5xi64> {cv.name = "input_ids"}, %{{[^:]*}}: tensor<1x2x3x4xf32> {cv.name = "past_key"}, %{{[^:]*}}: tensor<1x2x3x4xf32> {cv.name = "past_value"}) -> (tensor<1x5x40xf32> {cv.name = "logits"}, tensor<1x2x8x4xf32> {cv.name = "present_key"}, tensor<1x2x8x4xf32> {cv.name = "present_value"})
// RUN: conveyor-translate --import-onnx %S/../../Frontend/Inputs/torch_gpt2_dynamic.onnx | conveyor-opt "-conveyor-graph-specialize-dims=sizes=batch=1,seq=6" -conveyor-graph-verify-shapes | FileCheck %s --check-prefix=GPT2
// GPT2: func.func @main(%{{[^:]*}}: tensor<1x6xi64> {cv.name = "input_ids"}) -> (tensor<1x6x40xf32> {cv.name = "logits"})
// GPT2-NOT: cv.graph.iota
// GPT2: cv.graph.gather %{{.*}} {axis = 2 : i64} : (tensor<1x1x32x32xi1>, tensor<6xi64>) -> tensor<1x1x6x32xi1>

// CHECK-LABEL: func.func @decode_step
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x16xf32> {cv.name = "x"}, %[[PAST:.*]]: tensor<2x2x4x8xf32> {cv.name = "past"})
// CHECK-SAME: -> (tensor<2x2x7x8xf32>, tensor<3xi64>, tensor<2xi64>, tensor<3x7xf32>)
// CHECK-NEXT: %[[XH:.*]] = cv.graph.reshape %[[X]] : tensor<2x3x16xf32> -> tensor<2x3x2x8xf32>
// CHECK-NEXT: %[[Q:.*]] = cv.graph.transpose %[[XH]], [0, 2, 1, 3] : tensor<2x3x2x8xf32> -> tensor<2x2x3x8xf32>
// CHECK-NEXT: %[[KV:.*]] = cv.graph.concat %[[PAST]], %[[Q]] {axis = 2 : i64} : (tensor<2x2x4x8xf32>, tensor<2x2x3x8xf32>) -> tensor<2x2x7x8xf32>
// CHECK-NEXT: %[[IOTA:.*]] = cv.graph.constant dense<[0, 1, 2]> : tensor<3xi64>
// CHECK-NEXT: %[[START:.*]] = cv.graph.constant dense<4> : tensor<i64>
// CHECK-NEXT: %[[POS:.*]] = cv.graph.add %[[IOTA]], %[[START]] : (tensor<3xi64>, tensor<i64>) -> tensor<3xi64>
// CHECK-NEXT: %[[SIZES:.*]] = cv.graph.constant dense<[2, 7]> : tensor<2xi64>
// CHECK-NEXT: %[[ZERO:.*]] = cv.graph.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[FILL:.*]] = cv.graph.expand %[[ZERO]] : tensor<f32> -> tensor<3x7xf32>
// CHECK-NEXT: return %[[KV]], %[[POS]], %[[SIZES]], %[[FILL]]
func.func @decode_step(%x: tensor<?x?x16xf32> {cv.name = "x", cv.dim_names = ["batch", "seq", ""]},
                       %past: tensor<?x2x?x8xf32> {cv.name = "past", cv.dim_names = ["batch", "", "past", ""]})
    -> (tensor<?x2x?x8xf32>, tensor<?xi64>, tensor<2xi64>, tensor<?x?xf32>) {
  %xh = cv.graph.reshape %x {cv.dims = ["batch", "seq", "", ""]} : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
  %q = cv.graph.transpose %xh, [0, 2, 1, 3] : tensor<?x?x2x8xf32> -> tensor<?x2x?x8xf32>
  %kv = cv.graph.concat %past, %q {axis = 2 : i64} : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %iota = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xi64>
  %start = cv.graph.dim_value ["past"] : tensor<i64>
  %pos = cv.graph.add %iota, %start : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %sizes = cv.graph.dim_value ["batch", "past + seq"] : tensor<2xi64>
  %zero = cv.graph.constant dense<0.0> : tensor<f32> : tensor<f32>
  %fill = cv.graph.expand %zero {cv.dims = ["seq", "past + seq"]} : tensor<f32> -> tensor<?x?xf32>
  return %kv, %pos, %sizes, %fill : tensor<?x2x?x8xf32>, tensor<?xi64>, tensor<2xi64>, tensor<?x?xf32>
}

// -----

// A float iota (positions cast for rotary tables) and an already static graph.
// CHECK-LABEL: func.func @float_iota
// CHECK: cv.graph.constant dense<[0.000000e+00, 1.000000e+00, 2.000000e+00]> : tensor<3xf16>
func.func @float_iota() -> tensor<?xf16> {
  %0 = cv.graph.iota {cv.dims = ["seq"]} : tensor<?xf16>
  return %0 : tensor<?xf16>
}

// CHECK-LABEL: func.func @already_static
// CHECK-SAME: (%{{.*}}: tensor<4x4xf32>) -> tensor<4x4xf32>
func.func @already_static(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  return %x : tensor<4x4xf32>
}

// -----

// expected-error @+1 {{argument #0 ('tokens') dimension 1 is 'heads', but no size was given for 'heads'; pass sizes=heads=N}}
func.func @unbound(%x: tensor<2x?xf32> {cv.name = "tokens", cv.dim_names = ["", "heads"]}) -> tensor<2x?xf32> {
  return %x : tensor<2x?xf32>
}

// -----

// expected-error @+1 {{argument #0 has type 'tensor<?x8xf32>' but no cv.dims naming each of its dimensions}}
func.func @unnamed(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// -----

func.func @reshape_without_names(%x: tensor<?x16xf32> {cv.dim_names = ["seq", ""]}) -> tensor<?x4x4xf32> {
  // expected-error @+1 {{result #0 is still 'tensor<?x4x4xf32>' after binding the sizes (the op neither infers its type nor names its dimensions with cv.dims)}}
  %0 = cv.graph.reshape %x : tensor<?x16xf32> -> tensor<?x4x4xf32>
  return %0 : tensor<?x4x4xf32>
}
