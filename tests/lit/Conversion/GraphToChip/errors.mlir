// convert-graph-to-chip rejects what it cannot lower, naming the argument or op at fault.
// RUN: conveyor-opt %s --convert-graph-to-chip -split-input-file -verify-diagnostics

// expected-error @+1 {{argument #0 ('x') must be a statically shaped tensor to be loaded into SRAM, got 'tensor<?x4xf32>'}}
func.func @dynamic(%x: tensor<?x4xf32> {cv.name = "x"}) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}

// -----

func.func @integer_alpha(%a: tensor<2x3xi8> {cv.name = "a"}, %b: tensor<3x2xi8> {cv.name = "b"}) -> tensor<2x2xi8> {
  // expected-error @+2 {{gemm scale 2.000000e+00 on 'i8' tensors is not supported; only float gemms can be scaled}}
  // expected-error @+1 {{failed to legalize operation 'cv.graph.gemm'}}
  %y = cv.graph.gemm %a, %b {alpha = 2.0 : f32} : (tensor<2x3xi8>, tensor<3x2xi8>) -> tensor<2x2xi8>
  return %y : tensor<2x2xi8>
}
