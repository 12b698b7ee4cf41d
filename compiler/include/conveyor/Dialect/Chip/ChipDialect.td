// cv.chip: per-chip functional-unit operations of an LPU-style chip.
#ifndef CONVEYOR_DIALECT_CHIP_CHIPDIALECT_TD
#define CONVEYOR_DIALECT_CHIP_CHIPDIALECT_TD

include "mlir/IR/OpBase.td"

def Chip_Dialect : Dialect {
  let name = "cv.chip";
  let summary = "Functional-unit operations of one chip (MEM, MXM, VXM, SXM)";
  let description = [{
    Each op is one instruction (a burst of vectors) on one functional unit. Values are
    tensors resident in the chip's SRAM. Passes attach placement and timing:
    `sram_addr` (byte address, set by conveyor-allocate-sram) and `issue` (cycle, set by
    conveyor-schedule). The schedule writer requires both on every op.
  }];
  let cppNamespace = "::conveyor::chip";
}

class Chip_Op<string mnemonic, list<Trait> traits = []> :
    Op<Chip_Dialect, mnemonic, traits>;

#endif // CONVEYOR_DIALECT_CHIP_CHIPDIALECT_TD
