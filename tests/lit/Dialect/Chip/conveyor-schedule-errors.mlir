// conveyor-schedule refuses functions it cannot time, on the op at fault.
// RUN: conveyor-opt %s --conveyor-schedule=system=%S/../../../../systems/groq-1.yaml -split-input-file -verify-diagnostics

func.func @no_rate(%a: tensor<2x4xi32>) -> tensor<2x2xi32> {
  %w = cv.chip.weight "w" {value = dense<1> : tensor<4x2xi32>} : tensor<4x2xi32>
  %x = cv.chip.mem_write %a, "a" : tensor<2x4xi32>
  // expected-error @+1 {{'cv.chip.mxm_matmul' op cannot be timed: chip 'groq-tsp-v1' has no MXM rate for 'i32' (chip.mxm.macs_per_cycle); use a system that supports it}}
  %m = cv.chip.mxm_matmul %x, %w : (tensor<2x4xi32>, tensor<4x2xi32>) -> tensor<2x2xi32>
  %r = cv.chip.mem_read %m, "y" : tensor<2x2xi32>
  return %r : tensor<2x2xi32>
}

// -----

func.func @host_operand(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'cv.chip.vxm_unary' op operand #0 is a host tensor, not in SRAM; load function arguments with cv.chip.mem_write}}
  %y = cv.chip.vxm_unary "relu" %a : tensor<4xf32>
  %r = cv.chip.mem_read %y, "y" : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @not_lowered(%a: tensor<4xf32>) -> tensor<4xf32> {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  // expected-error @+1 {{'cv.graph.relu' op is not a cv.chip op; lower the function with convert-graph-to-chip before scheduling}}
  %y = cv.graph.relu %x : tensor<4xf32>
  %r = cv.chip.mem_read %y, "y" : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @not_read_back(%a: tensor<4xf32>) -> tensor<4xf32> {
  %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
  %y = cv.chip.vxm_unary "relu" %x : tensor<4xf32>
  // expected-error @+1 {{'func.return' op returned value #0 must be read back to the host with cv.chip.mem_read}}
  return %y : tensor<4xf32>
}

// -----

func.func @unsupported_type(%a: tensor<4xf64>) -> tensor<4xf64> {
  // expected-error @+1 {{'cv.chip.mem_write' op cannot be timed: 'tensor<4xf64>' is not a statically shaped tensor of a chip element type}}
  %x = cv.chip.mem_write %a, "a" : tensor<4xf64>
  %r = cv.chip.mem_read %x, "y" : tensor<4xf64>
  return %r : tensor<4xf64>
}
