// conveyor-allocate-sram: bump allocation at vector-aligned addresses (320 B on groq-1),
// views share their source's address, mem_read results get none.
// RUN: conveyor-opt %s --conveyor-allocate-sram=system=%S/../../../../systems/groq-1.yaml -split-input-file | FileCheck %s
// The same model on a chip with 4 KiB of SRAM does not fit:
// RUN: not conveyor-opt %s --conveyor-allocate-sram=system=%S/../../Inputs/tiny-sram.yaml -split-input-file 2>&1 | FileCheck %s --check-prefix=OVERFLOW
// RUN: not conveyor-opt %s --conveyor-allocate-sram -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSYSTEM
// RUN: not conveyor-opt %s --conveyor-allocate-sram=system=%t.missing.yaml -split-input-file 2>&1 | FileCheck %s --check-prefix=NOFILE

// OVERFLOW: error: model 'alloc' needs 17024 bytes of SRAM, chip 'tiny-sram-chip' has 4096; use a system with more SRAM or more chips
// NOSYSTEM: error: conveyor-allocate-sram needs the system description: pass the option 'system=<path>', e.g. conveyor-allocate-sram{system=systems/groq-1.yaml}
// NOFILE: error: conveyor-allocate-sram: {{.*}}missing.yaml: {{.*}}

// Sizes: w 64x32xf32 = 8192 B (26 vectors = 8320 B reserved), b 128 B (1 vector),
// x 2048 B (7 vectors = 2240 B), each 8x32xf32 result 1024 B (4 vectors = 1280 B).
// The last tensor ends at 16000 + 1024 = 17024: its padding takes no SRAM.
// CHECK-LABEL: func.func @main
// CHECK-SAME: cv.sram_bytes = 17024 : i64
// CHECK: cv.chip.weight "w" {sram_addr = 0 : i64
// CHECK: cv.chip.weight "b" {sram_addr = 8320 : i64
// CHECK: cv.chip.mem_write %{{.*}}, "x" {sram_addr = 8640 : i64}
// CHECK: cv.chip.mxm_matmul {{.*}} {sram_addr = 10880 : i64}
// CHECK: cv.chip.vxm_binary "add" {{.*}} {sram_addr = 12160 : i64}
// CHECK: cv.chip.vxm_unary "gelu" {{.*}} {sram_addr = 13440 : i64}
// CHECK: cv.chip.sxm_transpose {{.*}} {sram_addr = 14720 : i64}
// CHECK: cv.chip.view {{.*}} {sram_addr = 14720 : i64}
// CHECK: cv.chip.view {{.*}} {sram_addr = 14720 : i64}
// CHECK: cv.chip.vxm_softmax {{.*}} {axis = 1 : i64, sram_addr = 16000 : i64}
// CHECK: cv.chip.mem_read %{{.*}}, "y" : tensor<8x32xf32>
module attributes {cv.model_name = "alloc"} {
  func.func @main(%arg0: tensor<8x64xf32> {cv.name = "x"}) -> (tensor<8x32xf32> {cv.name = "y"}) {
    %w = cv.chip.weight "w" {value = dense<1.0> : tensor<64x32xf32>} : tensor<64x32xf32>
    %b = cv.chip.weight "b" {value = dense<0.5> : tensor<32xf32>} : tensor<32xf32>
    %x = cv.chip.mem_write %arg0, "x" : tensor<8x64xf32>
    %m = cv.chip.mxm_matmul %x, %w : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x32xf32>
    %a = cv.chip.vxm_binary "add" %m, %b : (tensor<8x32xf32>, tensor<32xf32>) -> tensor<8x32xf32>
    %g = cv.chip.vxm_unary "gelu" %a : tensor<8x32xf32>
    %t = cv.chip.sxm_transpose %g, [1, 0] : tensor<8x32xf32> -> tensor<32x8xf32>
    %v = cv.chip.view %t : tensor<32x8xf32> -> tensor<256xf32>
    %v2 = cv.chip.view %v : tensor<256xf32> -> tensor<8x32xf32>
    %s = cv.chip.vxm_softmax %v2 {axis = 1 : i64} : tensor<8x32xf32>
    %r = cv.chip.mem_read %s, "y" : tensor<8x32xf32>
    return %r : tensor<8x32xf32>
  }
}

// -----

// Sub-byte and empty tensors: 5 x i4 = 3 bytes, still one whole vector; an empty tensor
// takes one vector too, so every buffer has an address of its own.
// CHECK-LABEL: func.func @small
// CHECK-SAME: cv.sram_bytes = 960 : i64
// CHECK: cv.chip.weight "nibbles" {sram_addr = 0 : i64
// CHECK: cv.chip.weight "empty" {sram_addr = 320 : i64
// CHECK: cv.chip.weight "i8" {sram_addr = 640 : i64
module attributes {cv.model_name = "small"} {
  func.func @small() {
    %a = cv.chip.weight "nibbles" {value = dense<1> : tensor<5xi4>} : tensor<5xi4>
    %b = cv.chip.weight "empty" {value = dense<> : tensor<0xf32>} : tensor<0xf32>
    %c = cv.chip.weight "i8" {value = dense<1> : tensor<320xi8>} : tensor<320xi8>
    return
  }
}
