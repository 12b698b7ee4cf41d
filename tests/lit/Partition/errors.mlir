// conveyor-partition rejects graphs it cannot split, naming the op at fault.
// RUN: conveyor-opt %s --conveyor-partition="tp=2 stages=1" -split-input-file -verify-diagnostics

// expected-error @+1 {{has no cv.graph.embedding}}
func.func @main(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %y = cv.graph.add %x, %x : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// expected-error @+1 {{the module has no @main function}}
module {
  func.func @other() {
    return
  }
}
